#include "demo_page.h"

namespace fastbert::serve {

const std::string& demo_page_html() {
  static const std::string page = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fastbert question answering</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.3rem; }
  label { display: block; margin-top: 1rem; font-weight: 600; }
  textarea, input { width: 100%; box-sizing: border-box; font: inherit; padding: .4rem; }
  textarea { height: 10rem; }
  button { margin-top: 1rem; font: inherit; padding: .4rem 1.2rem; }
  #result { margin-top: 1.5rem; }
  #highlighted { white-space: pre-wrap; border: 1px solid #ccc; padding: .6rem; line-height: 1.5; }
  mark { background: #ffd54a; padding: 0 .1rem; }
  .meta { color: #555; margin: .5rem 0; }
  .error { color: #b00020; }
</style>
</head>
<body>
<h1>fastbert: ask a question about a text</h1>
<label for="context">Context</label>
<textarea id="context">The Denver Broncos defeated the Carolina Panthers 24 to 10 in Super Bowl 50, played at Levi's Stadium in Santa Clara, California.</textarea>
<label for="question">Question</label>
<input id="question" value="Who won Super Bowl 50?">
<label for="key">API key (only if the server was started with --api-key-file)</label>
<input id="key" type="password" autocomplete="off">
<button id="ask">Ask</button>
<div id="result">
  <div class="meta">Answer: <strong id="answer"></strong></div>
  <div class="meta">Score: <span id="score"></span> &middot; Latency: <span id="latency"></span></div>
  <div id="highlighted"></div>
  <div id="status" class="meta"></div>
</div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
// start and end count code points, as Array.from splits a string.
function show(context, start, end) {
  const chars = Array.from(context);
  const box = $("highlighted");
  box.textContent = "";
  if (start < 0) { box.textContent = context; return; }
  box.append(chars.slice(0, start).join(""));
  const mark = document.createElement("mark");
  mark.textContent = chars.slice(start, end).join("");
  box.append(mark, chars.slice(end).join(""));
}
async function ask() {
  const context = $("context").value, question = $("question").value;
  const headers = { "Content-Type": "application/json" };
  if ($("key").value) headers["Authorization"] = "Bearer " + $("key").value;
  $("status").textContent = "asking...";
  $("status").className = "meta";
  const t0 = performance.now();
  try {
    const response = await fetch("/v1/qa", { method: "POST", headers, body: JSON.stringify({ question, context }) });
    const body = await response.json();
    const ms = performance.now() - t0;
    if (!response.ok) throw new Error(response.status + ": " + (body.error || "error"));
    $("answer").textContent = body.answer || "(no answer)";
    $("score").textContent = body.score.toFixed(3);
    $("latency").textContent = ms.toFixed(1) + " ms";
    show(context, body.start, body.end);
    $("status").textContent = "answered";
  } catch (e) {
    $("status").textContent = String(e.message || e);
    $("status").className = "meta error";
  }
}
$("ask").addEventListener("click", ask);
const params = new URLSearchParams(location.search);
if (params.has("question") && params.has("context")) {
  $("question").value = params.get("question");
  $("context").value = params.get("context");
  ask();
}
</script>
</body>
</html>
)html";
  return page;
}

}  // namespace fastbert::serve
