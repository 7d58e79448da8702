// The server page's widget (a JS object; the page's helpers $, esc, ok, fail, fetchOk, m, cls are in scope):
// answers are shaded renders (a PNG grid) or a turntable (an animated GIF), with links that download the same
// shapes as meshes (GLB, OBJ). An interactive 3-D viewer would need a WebGL library the package does not ship.
{
  what: "3-D shapes, channels x voxels x voxels x voxels",
  controls: `<label>view <select id="sh_view"><option value="png">renders</option>
<option value="gif">turntable</option></select></label>`,
  query: () => `&format=${$("sh_view").value}`,
  show(box, url, role) {
    fetchOk(url).then(r => r.blob()).then(b => {
      const mesh = f => url.replace(/format=\w+/, `format=${f}`);
      box.innerHTML = role === "generate" ? `<img id="grid" alt="generated shapes"><p>download as
<a id="sh_glb" href="${mesh("glb")}" download="shapes.glb">GLB</a> or
<a id="sh_obj" href="${mesh("obj")}" download="shapes.obj">OBJ</a></p>` : '<img id="interp" alt="interpolated shape" width="160">';
      box.querySelector("img").src = URL.createObjectURL(b); ok();
    }).catch(fail);
  },
  preview(box, r) {
    r.blob().then(b => {
      box.innerHTML = '<img id="live_img" alt="newest preview">';
      box.firstChild.src = URL.createObjectURL(b);
    });
  },
}
