#pragma once
// The service's request and response bodies: `POST /v1/qa` and the KServe v2
// Open Inference Protocol (REST, JSON tensors). Parsing validates everything a
// client controls and throws RequestError with the HTTP status and a message
// naming the field; nothing invalid reaches a batch.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fastbert/runtime/squad/squad_postprocess.h"
#include "fastbert/serve/qa_batcher.h"

namespace fastbert::serve {

class RequestError : public std::runtime_error {
 public:
  RequestError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

// A context longer than this many characters (Unicode code points) is refused
// with 422: the body is well-formed and within the size limit, but one field
// is more than this service answers (0 = no limit).
struct FieldLimits {
  int64_t max_context_chars = 0;
};

// {"question", "context"} -> one answer object; {"inputs": [{...}, ...]} -> a
// list of answer objects in the same order.
struct V1Request {
  std::vector<QaItem> items;
  bool batch = false;  // the body was {"inputs": [...]}
};
V1Request parse_v1_request(std::string_view body, const FieldLimits& limits);
// Each answer: {"answer", "score", "start", "end"}, start and end counting
// code points of the context (as Python string indices and SQuAD's
// answer_start); -1, -1 and "" when no span qualifies.
std::string v1_response(const V1Request& request, const std::vector<SquadPrediction>& answers);

// POST /v2/models/{name}/infer: BYTES inputs "question" and "context" of
// shape [n] (any shape of n elements; data flat or nested), optional "id" and
// "outputs" (names among answer, score, start, end).
//
// Also the binary tensor data extension (Triton's, which tritonclient uses by
// default): the body is `json_length` bytes of JSON (the request header
// Inference-Header-Content-Length; -1 = no such header, all JSON) followed by
// the raw bytes of the inputs whose parameters give binary_data_size, in input
// order, a BYTES element as a 4-byte little-endian length and its bytes.
// Outputs come back binary where parameters.binary_data (per output) or
// binary_data_output (per request) asks.
struct V2Request {
  std::string id;
  bool has_id = false;
  std::vector<QaItem> items;
  std::vector<std::string> outputs;  // requested, in order; empty = all four
  std::vector<bool> binary_outputs;  // per requested output
  bool binary_by_default = false;    // parameters.binary_data_output
};
V2Request parse_v2_request(std::string_view body, int64_t json_length, const FieldLimits& limits);
struct V2Response {
  std::string body;
  int64_t json_length = -1;  // >= 0: binary outputs follow; send as Inference-Header-Content-Length
};
V2Response v2_response(const std::string& model, const V2Request& request, const std::vector<SquadPrediction>& answers);
std::string v2_model_metadata(const std::string& model);
std::string v2_server_metadata();

std::string error_body(const std::string& message);  // {"error": message}

// Code points of `text` before byte `byte` (a prediction's begin/end).
int64_t code_points_before(std::string_view text, int64_t byte);

}  // namespace fastbert::serve
