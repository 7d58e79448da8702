// The server page's widget: piano rolls, and a player of the rendered melodies; for models that encode, the
// path between two melodies chosen as files (POST /between: the files in base64, once as piano rolls and
// once rendered).
{
  what: "melodies, events x steps",
  show(box, url, role) {
    const wav = url.includes("format=") ? url.replace(/format=[a-z]+/, "format=wav") : url + "&format=wav";
    fetchOk(url).then(r => r.blob()).then(b => {
      box.innerHTML = `<img id="roll" alt="piano rolls"><br><audio id="player" controls src="${wav}"></audio>`;
      box.querySelector("img").src = URL.createObjectURL(b); ok();
    }).catch(fail);
  },
  panels: info => info.abilities.includes("reconstruct") ? `<fieldset id="betweenbox">
<legend>Between two melodies</legend>
<label>A <input id="melody_a" type="file" accept=".mid,.midi,.json"></label>
<label>B <input id="melody_b" type="file" accept=".mid,.midi,.json"></label>
<button id="between">Interpolate</button><div id="pathbox"></div></fieldset>` : "",
  bind(info) {
    if (!$("between")) return;
    const b64 = f => f.arrayBuffer()
      .then(a => btoa(Array.from(new Uint8Array(a), c => String.fromCharCode(c)).join("")));
    $("between").onclick = () => {
      const files = [$("melody_a").files[0], $("melody_b").files[0]];
      if (!files[0] || !files[1]) return fail("choose two melodies (MIDI files)");
      Promise.all(files.map(b64)).then(([a, b]) => {
        const post = f => fetchOk(`/api/${m()}/between?format=${f}${cls()}`, {method: "POST",
          headers: {"content-type": "application/json"}, body: JSON.stringify({a, b})}).then(r => r.blob());
        return Promise.all([post("png"), post("wav")]);
      }).then(([png, wav]) => {
        $("pathbox").innerHTML = '<img id="path_roll" alt="the path"><br><audio id="path_player" controls></audio>';
        $("path_roll").src = URL.createObjectURL(png); $("path_player").src = URL.createObjectURL(wav); ok();
      }).catch(fail);
    };
  },
  preview(box, r) { r.blob().then(b => { box.innerHTML = "<img>"; box.firstChild.src = URL.createObjectURL(b); }); },
}
