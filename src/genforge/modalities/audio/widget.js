// The server page's widget (a JS object; the page's helpers $, esc, ok, fail, fetchOk, m, cls are in scope):
// answers are JSON of base64 WAV clips, each shown as a player with its label; previews are players.
{
  what: "audio, channels x samples",
  show(box, url, role) {
    fetchOk(url).then(r => r.json()).then(j => {
      box.innerHTML = `<div id="${role === "generate" ? "clips" : "interp_clip"}">` + j.clips.map((c, i) =>
        `<figure style="display:inline-block"><audio controls src="data:audio/wav;base64,${c}"></audio>` +
        `<figcaption>${j.labels ? esc(j.labels[i]) : i}</figcaption></figure>`).join("") + "</div>";
      ok();
    }).catch(fail);
  },
  preview(box, r) {
    r.blob().then(b => { box.innerHTML = `<audio controls src="${URL.createObjectURL(b)}"></audio>`; });
  },
}
