// The server page's widget (a JS object; the page's helpers $, esc, ok, fail, fetchOk, m, cls are in scope):
// answers are JSON of base64 WAV clips, each shown as a player with its label; previews are players. Voice models
// get a panel: pick a training voice, a new one or upload a recording, pick a word, listen; or convert a clip.
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
  panels: info => info.abilities.includes("voice") ? `<fieldset id="voicebox">
<legend>Voices</legend>
<label>voice <select id="voice"><option value="new">a new voice</option></select></label>
<label>or the voice of a recording <input id="voice_from" type="file" accept="audio/*"></label>
<label>clips <input id="voice_n" type="number" min="1" max="16" value="4"></label>
<button id="speak">Speak</button>
<label>convert a clip <input id="convert_clip" type="file" accept="audio/*"></label>
<button id="convert">Convert</button><div id="voice_clips"></div></fieldset>` : "",
  bind(info) {
    if (!$("speak")) return;
    fetchOk(`/api/${m()}/voices`).then(r => r.json()).then(j => j.voices.forEach(v => {
      const o = document.createElement("option"); o.value = o.textContent = v; $("voice").appendChild(o);
    })).catch(fail);
    const b64 = file => file ? file.arrayBuffer().then(a => {
      let s = ""; new Uint8Array(a).forEach(c => { s += String.fromCharCode(c); }); return btoa(s);
    }) : Promise.resolve(null);
    const post = (path, body) => fetchOk(`/api/${m()}/${path}`, {method: "POST",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)}).then(r => r.json()).then(j => {
        $("voice_clips").innerHTML = j.clips.map((c, i) => `<figure style="display:inline-block"><audio controls ` +
          `src="data:audio/wav;base64,${c}"></audio><figcaption>${j.labels ? esc(j.labels[i]) : i}</figcaption>` +
          "</figure>").join("");
        ok();
      }).catch(fail);
    const voice = () => b64($("voice_from").files[0]).then(rec => rec ? {voice_from: rec} : {voice: $("voice").value});
    $("speak").onclick = () => voice().then(v => {
      const body = {...v, n: Number($("voice_n").value)};
      const c = new URLSearchParams(cls().slice(1)).get("class");
      if (c) body["class"] = c;
      post("speak", body);
    });
    $("convert").onclick = () => Promise.all([voice(), b64($("convert_clip").files[0])]).then(([v, clip]) => {
      if (!clip) { fail(new Error("choose a clip to convert")); return; }
      post("convert", {...v, voice: v.voice === "new" ? null : v.voice, clip});
    });
  },
  preview(box, r) {
    r.blob().then(b => { box.innerHTML = `<audio controls src="${URL.createObjectURL(b)}"></audio>`; });
  },
}
