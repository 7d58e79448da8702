// The server page's widget (a JS object; the page's helpers $, esc, ok, fail, fetchOk, m, cls are in scope):
// held-out questions with an answer each, and a chat panel: type a question, get several answers.
{
  what: "question-answer pairs, 2 sides x tokens x vocabulary",
  controls: '<label>temperature <input id="temperature" type="number" min="0" max="5" step="0.1" value="1"></label>',
  query: () => `&temperature=${$("temperature").value}`,
  show(box, url, role) {
    fetchOk(url).then(r => r.json()).then(j => {
      box.innerHTML = '<dl id="pairs"></dl>';
      j.pairs.forEach((p, i) => {
        const dt = document.createElement("dt"), dd = document.createElement("dd");
        dt.textContent = (j.labels ? `[${j.labels[i]}] ` : "") + p.question;
        dd.textContent = p.answer;
        box.firstChild.append(dt, dd);
      });
      ok();
    }).catch(fail);
  },
  panels: info => info.abilities.includes("answer") ? `<fieldset id="chatbox">
<legend>Ask a question</legend>
<label>question <input id="question" size="50" value="What is AI?"></label>
<label>answers <input id="answers_n" type="number" min="1" max="16" value="5"></label>
<button id="ask">Ask</button><ol id="answers"></ol></fieldset>` : "",
  bind(info) {
    if (!$("ask")) return;
    $("ask").onclick = () => {
      const body = {question: $("question").value, n: Number($("answers_n").value),
                    temperature: Number($("temperature").value)};
      const c = new URLSearchParams(cls().slice(1)).get("class");
      if (c) body["class"] = c;
      fetchOk(`/api/${m()}/answer`, {method: "POST", headers: {"Content-Type": "application/json"},
                                      body: JSON.stringify(body)})
        .then(r => r.json()).then(j => {
          $("answers").innerHTML = "";
          j.answers.forEach(a => { const li = document.createElement("li"); li.textContent = a;
                                   $("answers").appendChild(li); });
          ok();
        }).catch(fail);
    };
  },
  preview(box, r) { r.text().then(t => { box.innerHTML = "<pre></pre>"; box.firstChild.textContent = t; }); },
}
