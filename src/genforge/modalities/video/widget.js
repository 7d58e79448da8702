// The server page's widget (a JS object; the page's helpers $, esc, ok, fail, fetchOk, m, cls are in scope):
// answers and previews are animated GIF grids, shown as pictures (a browser plays them).
{
  what: "video clips, channels x frames x height x width",
  show(box, url, role) {
    fetchOk(url).then(r => r.blob()).then(b => {
      box.innerHTML = role === "generate" ? '<img id="grid" alt="generated clips">'
        : '<img id="interp" alt="interpolated clips">';
      box.firstChild.src = URL.createObjectURL(b); ok();
    }).catch(fail);
  },
  preview(box, r) {
    r.blob().then(b => {
      box.innerHTML = '<img id="live_img" alt="newest preview">';
      box.firstChild.src = URL.createObjectURL(b);
    });
  },
}
