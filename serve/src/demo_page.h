#pragma once
#include <string>

namespace fastbert::serve {

// `GET /`: one self-contained HTML page (no external assets) that asks
// POST /v1/qa and shows the answer highlighted in its context, with its score
// and the round-trip time. `?question=...&context=...` fills the form and asks
// at once (the headless-browser test uses it).
const std::string& demo_page_html();

}  // namespace fastbert::serve
