// The server page's widget (a JS object; the page's helpers $, esc, ok, fail, fetchOk, m, cls are in scope):
// generated grids and interpolation frames as pictures, previews as pictures.
{
  what: "images",
  show(box, url, role) {
    fetchOk(url).then(r => r.blob()).then(b => {
      let img = box.querySelector("img");
      if (!img) {
        box.innerHTML = role === "generate" ? '<img id="grid" alt="generated images">'
          : '<img id="interp" alt="interpolated image" width="160">';
        img = box.firstChild;
      }
      img.src = URL.createObjectURL(b); ok();
    }).catch(fail);
  },
  preview(box, r) {
    r.blob().then(b => {
      box.innerHTML = '<img id="live_img" alt="newest preview">';
      box.firstChild.src = URL.createObjectURL(b);
    });
  },
  panels: info => (info.abilities.includes("interpolate") ? `<fieldset><legend>Animate</legend>
<label>walks <input id="an_walks" type="number" value="4" min="1" max="10"></label>
<button id="an_go">Walk the latent space</button><p class="muted">looping walks (an animated GIF)</p>
<div id="an_out"></div></fieldset>` : "") + (info.abilities.includes("translate") ? `<fieldset>
<legend>Translate an image</legend>
<input id="tr_file" type="file" accept="image/*">
<label>direction <select id="tr_dir"><option value="a2b">${esc(info.classes[0])} to ${esc(info.classes[1])}</option>
<option value="b2a">${esc(info.classes[1])} to ${esc(info.classes[0])}</option></select></label>
<button id="tr_go">Translate</button><p class="muted">input, translated, translated back</p>
<div id="tr_out"></div></fieldset>` : ""),
  bind(info) {
    if ($("an_go")) $("an_go").onclick = () =>
      fetchOk(`/api/${m()}/animate?walks=${$("an_walks").value}${cls()}`).then(r => r.blob()).then(b => {
        $("an_out").innerHTML = '<img id="an_img" alt="latent walk">';
        $("an_img").src = URL.createObjectURL(b); ok();
      }).catch(fail);
    if (!$("tr_go")) return;
    $("tr_go").onclick = () => {
      const f = $("tr_file").files[0];
      if (!f) return fail("choose an image file first");
      fetch(`/api/${m()}/translate?direction=${$("tr_dir").value}`, {method: "POST", body: f})
        .then(r => r.ok ? r.blob() : r.json().then(e => Promise.reject(e.detail)))
        .then(b => { $("tr_out").innerHTML = '<img id="tr_img" alt="translation" width="240">';
                     $("tr_img").src = URL.createObjectURL(b); ok(); }).catch(fail);
    };
  },
}
