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
  // words reads a sentence in the page's language from the status
  // element's data-<key> (the page's template puts them there).
  function words(form, key, fallback) {
    var p = form.querySelector(".passkey-status");
    return (p && p.dataset[key]) || fallback;
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
      throw new Error(data.error || words(form, "refused", "The passkey request was refused."));
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
    return asJSON(cred, {
      clientDataJSON: enc(r.clientDataJSON), attestationObject: enc(r.attestationObject),
      transports: r.getTransports ? r.getTransports() : []
    });
  }

  // asJSON is what PublicKeyCredential.toJSON gives, for browsers
  // without it.
  function asJSON(cred, response) {
    return {
      id: cred.id, rawId: enc(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: response
    };
  }

  // assertion asks the browser for a passkey with the options pk.
  async function assertion(pk, mediation, signal) {
    pk.challenge = dec(pk.challenge);
    pk.allowCredentials = decList(pk.allowCredentials);
    var req = { publicKey: pk };
    if (mediation) req.mediation = mediation;
    if (signal) req.signal = signal;
    var cred = await navigator.credentials.get(req);
    var r = cred.response;
    return asJSON(cred, {
      clientDataJSON: enc(r.clientDataJSON), authenticatorData: enc(r.authenticatorData),
      signature: enc(r.signature), userHandle: r.userHandle ? enc(r.userHandle) : undefined
    });
  }

  async function get(form, purpose) {
    return assertion(await options(form, purpose));
  }

  function submit(form, cred) {
    form.querySelector("input[name=credential]").value = JSON.stringify(cred);
    form.submit();
  }

  forms.forEach(function (form) {
    var purpose = form.dataset.passkey;
    var creating = purpose === "register";
    var busy = false;
    // The autofill (conditional) request of a sign-in form: its abort
    // controller, and a promise that settles once its options have come
    // back. A button press aborts it; a press that fails starts a new one.
    var pending = null;
    form.hidden = false;

    function offerAutofill() {
      if (purpose !== "login" || !PublicKeyCredential.isConditionalMediationAvailable) return;
      var ctl = new AbortController();
      var ready = PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
        return ok && !ctl.signal.aborted ? options(form, purpose, "conditional") : null;
      }).catch(function () { return null; });
      pending = { ctl: ctl, ready: ready };
      ready.then(function (pk) {
        if (!pk || ctl.signal.aborted) return;
        return assertion(pk, "conditional", ctl.signal).then(function (cred) {
          if (!busy) { busy = true; submit(form, cred); }
        });
      }).catch(function () {}); // aborted, or nothing picked
    }
    offerAutofill();

    form.addEventListener("submit", function (ev) {
      if (form.querySelector("input[name=credential]").value) return;
      ev.preventDefault();
      if (busy) return; // a press while the browser is already asking
      busy = true;
      // The gateway binds a sign-in to a cookie its options answer sets:
      // let the autofill request's answer arrive before asking for new
      // options, so the two answers cannot swap cookies.
      var settled = Promise.resolve();
      if (pending) { pending.ctl.abort(); settled = pending.ready; pending = null; }
      say(form, "");
      settled.then(function () {
        return creating ? create(form, purpose) : get(form, purpose);
      }).then(function (cred) {
        submit(form, cred);
      }, function (err) {
        busy = false;
        say(form, err && err.name === "NotAllowedError"
          ? words(form, "cancelled", "No passkey was used. Try again, or choose another way.")
          : (err && err.message) || words(form, "unsupported", "Passkeys did not work in this browser."));
        offerAutofill();
      });
    });
  });
})();
