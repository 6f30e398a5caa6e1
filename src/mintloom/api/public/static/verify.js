// The verify page: send the dropped or chosen file to POST /verify and show its report.
// Everything the report holds is shown with textContent: a file name or a foreign signer is
// the uploader's text, never markup.
"use strict";
(function () {
  const form = document.getElementById("verify-form");
  const input = document.getElementById("file");
  const status = document.getElementById("status");
  const result = document.getElementById("result");
  const meanings = JSON.parse(document.getElementById("meanings").textContent);

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function fact(list, term, value) {
    if (value === undefined || value === null || value === "") return;
    list.append(el("dt", term));
    const dd = el("dd", value);
    dd.dir = "auto";
    list.append(dd);
  }

  function bindingText(r) {
    if (r.binding === "hard") return "its own embedded Content Credential";
    if (r.binding === "fingerprint")
      return "perceptual fingerprint match to " + r.matched_cid + " (distance " + r.fingerprint_distance + ")";
    return "none";
  }

  function renderFacts(r) {
    const facts = document.getElementById("facts");
    facts.replaceChildren();
    fact(facts, "File", r.file);
    fact(facts, "Media type", r.media_type);
    fact(facts, "CID", r.cid);
    fact(facts, "Bound by", bindingText(r));
    const c = r.credential;
    if (c) {
      fact(facts, "Credential", c.status);
      fact(facts, "Signed by", c.signer.subject || c.signer.claim_generator);
      fact(facts, "Issuer", c.signer.issuer);
      fact(facts, "Made with", c.signer.claim_generator);
    }
    fact(facts, "Signed at (trusted time-stamp)", r.signed_at);
    const l = r.license;
    if (l) {
      fact(facts, "Registered on chain", l.registered ? "yes" : "no");
      fact(facts, "Token", l.token_id);
      fact(facts, "Owner", l.owner);
      fact(facts, "Licence terms", (l.terms || []).map(function (t) { return t.name || "custom #" + t.id; }).join(", "));
    }
  }

  function renderChecks(r) {
    const list = document.getElementById("checks");
    list.replaceChildren();
    for (const c of r.checks) {
      const item = el("li", null, "check check-" + c.status);
      item.append(el("span", c.status, "check-status"), el("span", c.name, "check-name"));
      const detail = el("span", c.detail, "check-detail");
      detail.dir = "auto";
      item.append(detail);
      list.append(item);
    }
  }

  function historyText(h) {
    if (typeof h.action === "string") return "action " + h.action;
    if (h.action) {
      const a = h.action;
      return "action " + a.action + (a.software_agent ? " by " + a.software_agent : "") +
        (a.source_type ? " (" + a.source_type + ")" : "");
    }
    if (h.ingredient !== undefined)
      return "ingredient " + h.ingredient + " (" + h.relationship + (h.valid === false ? ", invalid" : "") + ")";
    if (h.derived_from) return "derived from " + h.derived_from + " (" + h.relation + ")";
    return JSON.stringify(h);
  }

  function renderHistory(r) {
    const list = document.getElementById("history");
    list.replaceChildren();
    for (const h of r.history) {
      const item = el("li");
      item.append(el("bdi", historyText(h)));  // isolated: the list keeps the page's direction
      list.append(item);
    }
    if (!r.history.length) list.append(el("li", "no recorded history"));
    const market = document.getElementById("market");
    market.replaceChildren();
    const sales = (r.license && r.license.sales) || [];
    if (!sales.length) return;
    market.append(el("h3", "Sales"));
    const ul = el("ul", null, "sales");
    for (const s of sales) ul.append(el("li", "block " + s.block + ": bought by " + s.buyer + " for " + s.price));
    market.append(ul);
  }

  function render(r) {
    const verdict = document.getElementById("verdict");
    verdict.textContent = r.verdict;
    verdict.dataset.verdict = r.verdict;
    document.getElementById("meaning").textContent = meanings[r.verdict] || "";
    renderFacts(r);
    renderChecks(r);
    renderHistory(r);
    result.hidden = false;
    result.dataset.state = "done";
    verdict.focus();
  }

  async function send(file) {
    if (!file) return;
    result.hidden = true;
    status.textContent = "Verifying " + file.name + "…";
    const body = new FormData();
    body.append("file", file, file.name);
    try {
      const response = await fetch(form.action, { method: "POST", body: body });
      const data = await response.json();
      if (!response.ok) {
        const wait = response.headers.get("Retry-After");
        status.textContent = "Not verified: " + data.error + (data.hint ? " (" + data.hint + ")" : "") +
          (wait ? " Retry in " + wait + " s." : "");
        return;
      }
      status.textContent = "Verified " + file.name + ".";
      render(data);
    } catch (err) {
      status.textContent = "The server could not be reached: " + err.message;
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send(input.files[0]);
  });
  input.addEventListener("change", function () { send(input.files[0]); });
  for (const name of ["dragenter", "dragover"]) {
    form.addEventListener(name, function (event) {
      event.preventDefault();
      form.classList.add("dragging");
    });
  }
  form.addEventListener("dragleave", function () { form.classList.remove("dragging"); });
  form.addEventListener("drop", function (event) {
    event.preventDefault();
    form.classList.remove("dragging");
    send(event.dataTransfer.files[0]);
  });
})();
