package botdefense

import (
	"testing"
	"github.com/chromedp/chromedp"
)

func TestPowDiag(t *testing.T) {
	ctx := newPowBrowser(t)
	site := newPowSite(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(site.url+"/form?bits=1&ready=1")); err != nil {
		t.Fatal(err)
	}
	hc, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`navigator.hardwareConcurrency`))
	t.Log("hc", hc, err)
	for _, n := range []int{1, 2, 3, 4} {
		for rep := 0; rep < 2; rep++ {
		res, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`new Promise(function (resolve) {
			var n = `+string(rune('0'+n))+`, out = [], t0 = performance.now();
			for (var i = 0; i < n; i++) (function (i) {
				var w = new Worker("/pow.js");
				w.onmessage = function (ev) { var c = +ev.data.counter; out.push(c, performance.now() - t0); w.terminate(); if (out.length === 2*n) resolve(out); };
				w.postMessage({challenge: "fixedchallenge" + i + "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", bits: 23, start: "0"});
			})(i);
		})`, chromedp.EvalAwaitPromise))
		t.Log(n, res, err)
		for i := 0; i+1 < len(res); i += 2 {
			t.Logf("  rate %.2f M/s", res[i]/res[i+1]/1000)
		}
		}
	}
}
