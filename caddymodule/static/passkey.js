// Frontdoor passkeys. A form marked data-passkey="<purpose>" gets a
// WebAuthn challenge from the gateway, asks the browser for a passkey, and
// posts the browser's answer in its hidden "credential" field. Without
// WebAuthn the passkey controls stay hidden and the page works as before.
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-passkey]");
  if (!forms.length) return;
  if (!window.PublicKeyCredential || !navigator.credentials) {
    forms.forEach(function (f) { f.hidden = true; });
    return;
  }

  function enc(buf) {
    var s = "", b = new Uint8Array(buf);
    for (var i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function dec(str) {
    str = str.replace(/-/g, "+").replace(/_/g, "/");
    while (str.length % 4) str += "=";
    var s = atob(str), b = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
    return b.buffer;
  }
  function decList(list) {
    return (list || []).map(function (c) { var o = Object.assign({}, c); o.id = dec(c.id); return o; });
  }

  function say(form, msg) {
    var p = form.querySelector(".passkey-status");
    if (p) { p.textContent = msg; p.hidden = !msg; }
  }

  async function options(form, purpose, mediation) {
    var body = new URLSearchParams();
    body.set("csrf_token", form.querySelector("input[name=csrf_token]").value);
    body.set("purpose", purpose);
    if (mediation) body.set("mediation", mediation);
    var res = await fetch(form.dataset.options, {
      method: "POST", body: body, credentials: "same-origin", headers: { "Accept": "application/json" }
    });
    var data = await res.json().catch(function () { return {}; });
    if (!res.ok) {
      if (data.location) window.location.assign(data.location);
      throw new Error(data.error || "The passkey request was refused.");
    }
    return data.publicKey;
  }

  async function create(form, purpose) {
    var pk = await options(form, purpose);
    pk.challenge = dec(pk.challenge);
    pk.user.id = dec(pk.user.id);
    pk.excludeCredentials = decList(pk.excludeCredentials);
    var cred = await navigator.credentials.create({ publicKey: pk });
    var r = cred.response;
    return {
      id: cred.id, rawId: enc(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: {
        clientDataJSON: enc(r.clientDataJSON), attestationObject: enc(r.attestationObject),
        transports: r.getTransports ? r.getTransports() : []
      }
    };
  }

  async function get(form, purpose, mediation, signal) {
    var pk = await options(form, purpose, mediation);
    pk.challenge = dec(pk.challenge);
    pk.allowCredentials = decList(pk.allowCredentials);
    var req = { publicKey: pk };
    if (mediation) req.mediation = mediation;
    if (signal) req.signal = signal;
    var cred = await navigator.credentials.get(req);
    var r = cred.response;
    return {
      id: cred.id, rawId: enc(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: {
        clientDataJSON: enc(r.clientDataJSON), authenticatorData: enc(r.authenticatorData),
        signature: enc(r.signature), userHandle: r.userHandle ? enc(r.userHandle) : undefined
      }
    };
  }

  function submit(form, cred) {
    form.querySelector("input[name=credential]").value = JSON.stringify(cred);
    form.submit();
  }

  forms.forEach(function (form) {
    var purpose = form.dataset.passkey;
    var creating = purpose === "register";
    var pending = null; // the autofill request, aborted by a button press
    form.hidden = false;

    if (purpose === "login" && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
        if (!ok) return;
        pending = new AbortController();
        get(form, purpose, "conditional", pending.signal).then(function (cred) { submit(form, cred); }, function () {});
      });
    }

    form.addEventListener("submit", function (ev) {
      if (form.querySelector("input[name=credential]").value) return;
      ev.preventDefault();
      if (pending) { pending.abort(); pending = null; }
      say(form, "");
      (creating ? create(form, purpose) : get(form, purpose)).then(function (cred) {
        submit(form, cred);
      }, function (err) {
        say(form, err && err.name === "NotAllowedError"
          ? "No passkey was used. Try again, or choose another way."
          : (err && err.message) || "Passkeys did not work in this browser.");
      });
    });
  });
})();
