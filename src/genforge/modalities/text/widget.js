// The server page's widget (a JS object; the page's helpers $, esc, ok, fail, fetchOk, m, cls are in scope):
// lists of texts, a sampling temperature, and the path between two typed sentences for models that encode.
{
  what: "text, vocabulary x tokens",
  controls: '<label>temperature <input id="temperature" type="number" min="0" max="5" step="0.1" value="1"></label>',
  query: () => `&temperature=${$("temperature").value}`,
  show(box, url, role) {
    fetchOk(url).then(r => r.json()).then(j => {
      if (role === "interpolate") {
        box.innerHTML = '<p id="interp_text"></p>';
        box.firstChild.textContent = j.texts[0] ?? "";
      } else {
        box.innerHTML = `<ol id="${role === "between" ? "path" : "texts"}"></ol>`;
        j.texts.forEach((t, i) => { const li = document.createElement("li");
          li.textContent = (j.labels ? `[${j.labels[i]}] ` : "") + t; box.firstChild.appendChild(li); });
      }
      ok();
    }).catch(fail);
  },
  panels: info => info.abilities.includes("reconstruct") ? `<fieldset id="betweenbox">
<legend>Between two sentences</legend>
<label>A <input id="sent_a" size="40" value="I love computers."></label>
<label>B <input id="sent_b" size="40" value="The sea is deep and the sky is blue."></label>
<button id="between">Interpolate</button><div id="pathbox"></div></fieldset>` : "",
  bind(info) {
    if (!$("between")) return;
    const q = id => encodeURIComponent($(id).value);
    const url = () => `/api/${m()}/between?a=${q("sent_a")}&b=${q("sent_b")}${cls()}`;
    $("between").onclick = () => this.show($("pathbox"), url(), "between");
  },
  preview(box, r) { r.text().then(t => { box.innerHTML = "<pre></pre>"; box.firstChild.textContent = t; }); },
}
