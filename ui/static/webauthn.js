// Security keys and passkeys (WebAuthn). The server renders each ceremony
// as a form with data-webauthn ("create", "get" or "passkey") and the
// options JSON in data-options; this script runs the ceremony when the
// form is submitted, puts the browser's answer in the hidden "credential"
// field and submits the form. It decides nothing: the server checks the
// answer and says what comes next. Without JavaScript the forms' buttons
// stay hidden and the pages' <noscript> text says why.
"use strict";
(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) {
    for (const el of document.querySelectorAll("[data-webauthn-unsupported]")) el.hidden = false;
    return;
  }

  function decode(s) {
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  }
  function encode(buf) {
    let s = "";
    for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function descriptors(list) {
    return (list || []).map((c) => Object.assign({}, c, { id: decode(c.id) }));
  }

  // options turns the server's JSON into what navigator.credentials takes.
  function options(form) {
    const o = JSON.parse(form.dataset.options);
    o.challenge = decode(o.challenge);
    if (o.user) o.user = Object.assign({}, o.user, { id: decode(o.user.id) });
    if (o.excludeCredentials) o.excludeCredentials = descriptors(o.excludeCredentials);
    if (o.allowCredentials) o.allowCredentials = descriptors(o.allowCredentials);
    return o;
  }

  // answer is the credential as the JSON the server reads (WebAuthn
  // Level 3's toJSON, written out for browsers without it).
  function answer(cred) {
    const r = cred.response;
    const out = {
      id: cred.id,
      rawId: encode(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: encode(r.clientDataJSON) },
    };
    if (r.attestationObject) {
      out.response.attestationObject = encode(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = encode(r.authenticatorData);
      out.response.signature = encode(r.signature);
      if (r.userHandle) out.response.userHandle = encode(r.userHandle);
    }
    return JSON.stringify(out);
  }

  // message is what the page says when the browser's ceremony failed.
  function message(err, kind) {
    switch (err && err.name) {
      case "AbortError":
        return "";
      case "NotAllowedError":
        return kind === "create"
          ? "The security key was not registered: the request was cancelled or timed out. Try again."
          : "No security key or passkey answered: the request was cancelled or timed out. Try again.";
      case "InvalidStateError":
        return "This security key is already registered to your account. Use another key.";
      case "SecurityError":
        return "This browser refused to use security keys on this site. Use another method.";
    }
    return "Your browser could not use the security key. Try again, or use another method.";
  }

  function showError(text) {
    const el = document.getElementById("form-error");
    if (!el || !text) return;
    el.textContent = text;
    el.hidden = false;
    el.focus && el.focus();
  }

  // conditional is the passkey request of the login page's email field
  // (conditional mediation): the browser offers the user's passkeys
  // among its autofill suggestions. A click on the passkey button
  // aborts it first, because a page may have one request at a time.
  let conditional = null;

  async function run(form, mediation) {
    const kind = form.dataset.webauthn;
    const field = form.querySelector('input[name="credential"]');
    const publicKey = options(form);
    let cred;
    if (kind === "create") {
      cred = await navigator.credentials.create({ publicKey });
    } else {
      const req = { publicKey };
      if (mediation) {
        conditional = new AbortController();
        req.mediation = mediation;
        req.signal = conditional.signal;
      }
      cred = await navigator.credentials.get(req);
    }
    if (!cred) throw new DOMException("no credential", "NotAllowedError");
    field.value = answer(cred);
    form.submit();
  }

  for (const form of document.querySelectorAll("form[data-webauthn]")) {
    for (const el of form.querySelectorAll("[hidden][data-webauthn-show]")) el.hidden = false;
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (conditional) {
        conditional.abort();
        conditional = null;
      }
      const button = form.querySelector('button[type="submit"]');
      if (button) button.disabled = true;
      run(form).catch((err) => {
        if (button) button.disabled = false;
        showError(message(err, form.dataset.webauthn));
      });
    });
  }

  const passkey = document.querySelector('form[data-webauthn="passkey"]');
  if (passkey && PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable().then((ok) => {
      if (ok) run(passkey, "conditional").catch(() => {});
    });
  }
})();
