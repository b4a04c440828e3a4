// Frontdoor proof of work. Solves the gateway's challenge in the browser so
// a form can be posted; see botdefense/pow.go for the format. It needs no
// inline script, eval or wasm, so it runs under
//   script-src 'self'; worker-src 'self'
// Markup, inside a form (the attributes may also sit on the form itself):
//
//   <form method="post" data-pow-autosubmit>          (autosubmit: optional)
//     <div data-pow-challenge="…" data-pow-bits="18"
//          data-pow-worker="/static/pow.js"></div>   (URL of this script)
//     <input type="hidden" name="pow">
//     <p class="pow-status" aria-live="polite">This form needs JavaScript.</p>
//     <noscript>Why: a short explanation that the page checks the browser
//       with a small computation, and that it needs JavaScript.</noscript>
//     <button type="submit" disabled>Continue</button>
//   </form>
//   <script src="/static/pow.js" defer></script>
//
// It writes challenge + "~" + counter into the "pow" input, enables the
// submit buttons that were disabled, sets .pow-status to "Done" (the texts
// can be changed with data-pow-checking and data-pow-done on that element)
// and, with data-pow-autosubmit or when someone tried to submit early,
// submits the form. The search runs in up to four Web Workers running this
// same file (data-pow-workers="n" sets how many); where workers are missing
// or blocked it runs on the page in slices of 50 ms.
(function () {
  "use strict";

  var K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);
  var IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  var W = new Int32Array(64);

  // compress runs the SHA-256 compression function on the 64 bytes of b at
  // off, updating the state H in place.
  function compress(H, b, off) {
    var i, x, y, t1, t2;
    for (i = 0; i < 16; i++, off += 4) {
      W[i] = b[off] << 24 | b[off + 1] << 16 | b[off + 2] << 8 | b[off + 3];
    }
    for (i = 16; i < 64; i++) {
      x = W[i - 15];
      y = W[i - 2];
      W[i] = (((x >>> 7 | x << 25) ^ (x >>> 18 | x << 14) ^ x >>> 3) +
        ((y >>> 17 | y << 15) ^ (y >>> 19 | y << 13) ^ y >>> 10) + W[i - 7] + W[i - 16]) | 0;
    }
    var a = H[0], c1 = H[1], c2 = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
    for (i = 0; i < 64; i++) {
      t1 = (h + ((e >>> 6 | e << 26) ^ (e >>> 11 | e << 21) ^ (e >>> 25 | e << 7)) +
        (e & f ^ ~e & g) + K[i] + W[i]) | 0;
      t2 = (((a >>> 2 | a << 30) ^ (a >>> 13 | a << 19) ^ (a >>> 22 | a << 10)) +
        (a & c1 ^ a & c2 ^ c1 & c2)) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0;
      d = c2; c2 = c1; c1 = a; a = (t1 + t2) | 0;
    }
    H[0] = H[0] + a | 0; H[1] = H[1] + c1 | 0; H[2] = H[2] + c2 | 0; H[3] = H[3] + d | 0;
    H[4] = H[4] + e | 0; H[5] = H[5] + f | 0; H[6] = H[6] + g | 0; H[7] = H[7] + h | 0;
  }

  // Search tries challenge~counter for counter = start, start+1, … The
  // 64-byte blocks of "challenge~" that never change are hashed once; each
  // try hashes only the rest, whose decimal counter is incremented in place.
  function Search(challenge, bits, start) {
    var msg = challenge + "~", n = msg.length, i;
    if (n > 512 || !/^[0-9]{1,20}$/.test(start)) throw new Error("pow: bad input");
    var all = new Uint8Array(n);
    for (i = 0; i < n; i++) {
      all[i] = msg.charCodeAt(i);
      if (msg.charCodeAt(i) > 126) throw new Error("pow: challenge not ASCII");
    }
    this.bits = bits;
    this.full = n - n % 64;
    this.mid = new Int32Array(IV);
    for (i = 0; i < this.full; i += 64) compress(this.mid, all, i);
    this.rest = n - this.full;
    this.buf = new Uint8Array(192);
    this.buf.set(all.subarray(this.full));
    for (i = 0; i < start.length; i++) this.buf[this.rest + i] = start.charCodeAt(i);
    this.digits = start.length;
    this.H = new Int32Array(8);
    this.pad();
  }

  Search.prototype.pad = function () {
    var b = this.buf, len = this.rest + this.digits, bitLen = (this.full + len) * 8;
    this.blocks = (len + 9 + 63) >> 6;
    b.fill(0, len);
    b[len] = 0x80;
    var end = this.blocks * 64;
    b[end - 4] = bitLen >>> 24; b[end - 3] = bitLen >>> 16 & 255;
    b[end - 2] = bitLen >>> 8 & 255; b[end - 1] = bitLen & 255;
  };

  // run makes up to tries attempts and returns the counter that solves the
  // challenge, or "" to be called again.
  Search.prototype.run = function (tries) {
    var b = this.buf, H = this.H, mid = this.mid, bits = this.bits, k, j;
    while (tries-- > 0) {
      H.set(mid);
      for (k = 0; k < this.blocks; k++) compress(H, b, k * 64);
      var found = Math.clz32(H[0]) >= bits;
      var s = this.rest, e = s + this.digits;
      if (found) return String.fromCharCode.apply(null, b.subarray(s, e));
      for (j = e - 1; j >= s && b[j] === 57; j--) b[j] = 48;
      if (j >= s) {
        b[j]++;
      } else {
        if (this.digits === 20) throw new Error("pow: counter overflow");
        b[s] = 49; b[e] = 48; this.digits++;
        this.pad();
      }
    }
    return "";
  };

  function clampBits(v) {
    v = parseInt(v, 10);
    return v >= 1 ? Math.min(v, 32) : 1;
  }

  // Inside a worker this file answers {challenge, bits, start} with
  // {counter} (a decimal string), or {error}.
  if (typeof WorkerGlobalScope !== "undefined" && self instanceof WorkerGlobalScope) {
    self.onmessage = function (ev) {
      var m = ev.data || {}, c = "";
      try {
        var s = new Search(String(m.challenge), clampBits(m.bits), String(m.start || "0"));
        while (!c) c = s.run(1 << 16);
        self.postMessage({ counter: c });
      } catch (err) {
        self.postMessage({ error: String(err) });
      }
    };
    return;
  }

  var scriptURL = document.currentScript ? document.currentScript.src : "";
  var started = typeof WeakSet === "function" ? new WeakSet() : null;

  function onPage(challenge, bits, finish) {
    var s;
    try { s = new Search(challenge, bits, "0"); } catch (err) { return; }
    (function slice() {
      var t = Date.now(), c = "";
      do c = s.run(2048); while (!c && Date.now() - t < 50);
      if (c) finish(c); else setTimeout(slice, 0);
    })();
  }

  // inWorkers starts the search in n workers over disjoint counter ranges
  // and reports false if no worker could be made; if every worker fails
  // later, the page searches itself.
  function inWorkers(url, n, challenge, bits, finish) {
    if (!url || typeof Worker !== "function") return false;
    var ws = [], failed = 0, over = false, i;
    function stop() { over = true; ws.forEach(function (w) { w.terminate(); }); }
    function fail() {
      if (++failed === ws.length && !over) { stop(); onPage(challenge, bits, finish); }
    }
    function answer(ev) {
      var c = ev.data && ev.data.counter;
      if (over) return;
      if (typeof c === "string" && /^[0-9]{1,20}$/.test(c)) { stop(); finish(c); } else fail();
    }
    for (i = 0; i < n; i++) {
      var w;
      try { w = new Worker(url); } catch (err) { break; }
      w.onmessage = answer;
      w.onerror = function (ev) { ev.preventDefault(); fail(); };
      w.postMessage({ challenge: challenge, bits: bits, start: i ? i + "000000000000" : "0" });
      ws.push(w);
    }
    return ws.length > 0;
  }

  function setup(el) {
    var form = el.closest("form");
    if (!form || (started && started.has(form))) return;
    if (started) started.add(form);
    var challenge = el.getAttribute("data-pow-challenge") || "";
    var bits = clampBits(el.getAttribute("data-pow-bits"));
    var input = form.querySelector('input[name="pow"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = "pow";
      form.appendChild(input);
    }
    var status = form.querySelector(".pow-status");
    var buttons = Array.prototype.filter.call(
      form.querySelectorAll('button:not([type]), button[type="submit"], input[type="submit"], input[type="image"]'),
      function (b) { return b.disabled; });
    var done = false, wanted = false;
    function say(attr, text) {
      if (status) status.textContent = status.getAttribute(attr) || text;
    }
    form.addEventListener("submit", function (ev) {
      if (!done) { ev.preventDefault(); wanted = ev.submitter || true; }
    });
    function finish(counter) {
      if (done) return;
      done = true;
      input.value = challenge + "~" + counter;
      buttons.forEach(function (b) { b.disabled = false; });
      say("data-pow-done", "Done");
      if (wanted || form.hasAttribute("data-pow-autosubmit")) {
        if (!form.requestSubmit) form.submit();
        else if (wanted && wanted !== true) form.requestSubmit(wanted);
        else form.requestSubmit();
      }
    }
    say("data-pow-checking", "Checking your browser\u2026");
    var n = parseInt(el.getAttribute("data-pow-workers"), 10);
    if (!(n >= 1)) n = Math.min(navigator.hardwareConcurrency || 1, 4);
    var url = el.getAttribute("data-pow-worker") || scriptURL;
    if (!inWorkers(url, Math.min(n, 16), challenge, bits, finish)) onPage(challenge, bits, finish);
  }

  function start() {
    document.querySelectorAll("[data-pow-challenge]").forEach(setup);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
