#include "fastbert/serve/qa_protocol.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace fastbert::serve {

namespace {

using json = nlohmann::json;

// Invalid bytes in a message (a client's bad UTF-8 quoted back) become U+FFFD
// instead of failing the dump.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Parses `body`, naming where it broke: nlohmann's parser reports a byte
// position; the callback keeps the path of the value being read (object keys,
// array indices), so invalid UTF-8 inside a field is reported as that field.
json parse_body(std::string_view body) {
  struct Frame {
    bool array;
    std::string key;
    int64_t index = 0;
  };
  std::vector<Frame> stack;
  auto track = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        stack.push_back({false, "", 0});
        break;
      case json::parse_event_t::array_start:
        stack.push_back({true, "", 0});
        break;
      case json::parse_event_t::key:
        stack.back().key = parsed.get<std::string>();
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        stack.pop_back();
        if (!stack.empty() && stack.back().array) ++stack.back().index;
        break;
      case json::parse_event_t::value:
        if (!stack.empty() && stack.back().array) ++stack.back().index;
        break;
    }
    return true;
  };
  try {
    return json::parse(body.begin(), body.end(), track);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number past double's range
    std::string path;
    for (const Frame& f : stack)
      path += f.array ? "[" + std::to_string(f.index) + "]" : (path.empty() ? "" : ".") + f.key;
    std::string what = e.what();
    if (const size_t p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    // nlohmann quotes the bytes it last read: not worth echoing a client's invalid UTF-8 back.
    if (const size_t p = what.find("; last read"); p != std::string::npos) what.resize(p);
    throw RequestError(400,
                       "body is not valid JSON" + (path.empty() ? "" : " (in field \"" + path + "\")") + ": " + what);
  }
}

const char* type_name(const json& j) { return j.type_name(); }

std::string field_string(const json& object, const std::string& key, const std::string& where) {
  const std::string field = where.empty() ? key : where + "." + key;
  auto it = object.find(key);
  if (it == object.end()) throw RequestError(400, "missing field \"" + field + "\"");
  if (!it->is_string())
    throw RequestError(400, "field \"" + field + "\" must be a string, got " + std::string(type_name(*it)));
  std::string value = it->get<std::string>();
  if (value.empty()) throw RequestError(400, "field \"" + field + "\" is empty");
  return value;
}

int64_t code_points(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

void check_item(const QaItem& item, const std::string& context_field, const FieldLimits& limits) {
  if (limits.max_context_chars > 0 && code_points(item.context) > limits.max_context_chars)
    throw RequestError(422, "field \"" + context_field + "\" has " + std::to_string(code_points(item.context)) +
                                " characters, more than the limit of " + std::to_string(limits.max_context_chars));
}

json v1_answer(const QaItem& item, const SquadPrediction& p) {
  const bool found = p.begin >= 0;
  return json{{"answer", p.text},
              {"score", p.score},
              {"start", found ? code_points_before(item.context, p.begin) : -1},
              {"end", found ? code_points_before(item.context, p.end) : -1}};
}

// The elements of a tensor's "data", flat or nested, row-major.
void flatten(const json& data, const std::string& where, std::vector<std::string>* out) {
  if (data.is_array()) {
    for (size_t i = 0; i < data.size(); ++i) flatten(data[i], where + "[" + std::to_string(i) + "]", out);
    return;
  }
  if (!data.is_string())
    throw RequestError(400,
                       "field \"" + where + "\" must be a string (BYTES element), got " + std::string(type_name(data)));
  out->push_back(data.get<std::string>());
}

const char* kOutputs[] = {"answer", "score", "start", "end"};

}  // namespace

int64_t code_points_before(std::string_view text, int64_t byte) {
  return code_points(text.substr(0, static_cast<size_t>(std::min<int64_t>(byte, text.size()))));
}

std::string error_body(const std::string& message) { return dump(json{{"error", message}}); }

V1Request parse_v1_request(std::string_view body, const FieldLimits& limits) {
  const json j = parse_body(body);
  if (!j.is_object()) throw RequestError(400, "body must be a JSON object, got " + std::string(type_name(j)));
  V1Request r;
  if (auto inputs = j.find("inputs"); inputs != j.end()) {
    if (!inputs->is_array())
      throw RequestError(400, "field \"inputs\" must be an array, got " + std::string(type_name(*inputs)));
    if (inputs->empty()) throw RequestError(400, "field \"inputs\" is empty");
    r.batch = true;
    for (size_t i = 0; i < inputs->size(); ++i) {
      const std::string where = "inputs[" + std::to_string(i) + "]";
      const json& item = (*inputs)[i];
      if (!item.is_object())
        throw RequestError(400, "field \"" + where + "\" must be an object, got " + std::string(type_name(item)));
      r.items.push_back({field_string(item, "question", where), field_string(item, "context", where)});
      check_item(r.items.back(), where + ".context", limits);
    }
    return r;
  }
  r.items.push_back({field_string(j, "question", ""), field_string(j, "context", "")});
  check_item(r.items.back(), "context", limits);
  return r;
}

std::string v1_response(const V1Request& request, const std::vector<SquadPrediction>& answers) {
  if (!request.batch) return dump(v1_answer(request.items.at(0), answers.at(0)));
  json list = json::array();
  for (size_t i = 0; i < request.items.size(); ++i) list.push_back(v1_answer(request.items[i], answers.at(i)));
  return dump(list);
}

namespace {

// The BYTES elements of a binary tensor: each a 4-byte little-endian length and its bytes.
std::vector<std::string> bytes_elements(std::string_view raw, const std::string& where) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < raw.size()) {
    if (raw.size() - pos < 4)
      throw RequestError(400, "field \"" + where + "\": binary data ends inside an element's 4-byte length");
    uint32_t length = 0;
    for (int b = 3; b >= 0; --b) length = (length << 8) | static_cast<unsigned char>(raw[pos + static_cast<size_t>(b)]);
    pos += 4;
    if (raw.size() - pos < length)
      throw RequestError(400, "field \"" + where + "\": an element of " + std::to_string(length) + " bytes, but only " +
                                  std::to_string(raw.size() - pos) + " bytes of binary data are left");
    out.emplace_back(raw.substr(pos, length));
    pos += length;
  }
  return out;
}

// nlohmann's dump checks UTF-8 (and throws type_error 316 on a bad byte).
bool valid_utf8(const std::string& text) {
  try {
    (void)json(text).dump();
    return true;
  } catch (const json::type_error&) {
    return false;
  }
}

template <class T>
void append_raw(std::string* out, T v) {  // little-endian, as x86-64 stores it
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

}  // namespace

V2Request parse_v2_request(std::string_view body, int64_t json_length, const FieldLimits& limits) {
  std::string_view binary;
  if (json_length >= 0) {
    if (json_length > static_cast<int64_t>(body.size()))
      throw RequestError(400, "header Inference-Header-Content-Length is " + std::to_string(json_length) +
                                  ", more than the body's " + std::to_string(body.size()) + " bytes");
    binary = body.substr(static_cast<size_t>(json_length));
    body = body.substr(0, static_cast<size_t>(json_length));
  }
  size_t binary_used = 0;
  const json j = parse_body(body);
  if (!j.is_object()) throw RequestError(400, "body must be a JSON object, got " + std::string(type_name(j)));
  V2Request r;
  if (auto id = j.find("id"); id != j.end()) {
    if (!id->is_string()) throw RequestError(400, "field \"id\" must be a string, got " + std::string(type_name(*id)));
    r.id = id->get<std::string>();
    r.has_id = true;
  }
  if (auto p = j.find("parameters"); p != j.end() && p->is_object())
    r.binary_by_default = p->value("binary_data_output", false);
  auto inputs = j.find("inputs");
  if (inputs == j.end()) throw RequestError(400, "missing field \"inputs\"");
  if (!inputs->is_array())
    throw RequestError(400, "field \"inputs\" must be an array, got " + std::string(type_name(*inputs)));
  std::vector<std::string> questions, contexts;
  bool have_question = false, have_context = false;
  for (size_t i = 0; i < inputs->size(); ++i) {
    const std::string where = "inputs[" + std::to_string(i) + "]";
    const json& t = (*inputs)[i];
    if (!t.is_object())
      throw RequestError(400, "field \"" + where + "\" must be an object, got " + std::string(type_name(t)));
    const std::string name = field_string(t, "name", where);
    const std::string datatype = field_string(t, "datatype", where);
    if (name != "question" && name != "context")
      throw RequestError(400, "field \"" + where + ".name\" is \"" + name +
                                  "\"; this model's inputs are \"question\" and \"context\"");
    if (datatype != "BYTES")
      throw RequestError(400,
                         "field \"" + where + ".datatype\" is \"" + datatype + "\"; input \"" + name + "\" is BYTES");
    auto shape = t.find("shape");
    if (shape == t.end()) throw RequestError(400, "missing field \"" + where + ".shape\"");
    if (!shape->is_array()) throw RequestError(400, "field \"" + where + ".shape\" must be an array of integers");
    int64_t elements = 1;
    for (const json& d : *shape) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0)
        throw RequestError(400, "field \"" + where + ".shape\" must hold non-negative integers, got " + dump(*shape));
      elements *= d.get<int64_t>();
    }
    std::vector<std::string>& values = name == "question" ? questions : contexts;
    (name == "question" ? have_question : have_context) = true;
    values.clear();
    const auto params = t.find("parameters");
    if (params != t.end() && params->is_object() && params->contains("binary_data_size")) {
      const json& size = (*params)["binary_data_size"];
      if (!size.is_number_unsigned())
        throw RequestError(400, "field \"" + where + ".parameters.binary_data_size\" must be a non-negative integer");
      const size_t n = size.get<size_t>();
      if (n > binary.size() - binary_used)
        throw RequestError(400, "field \"" + where + ".parameters.binary_data_size\" is " + std::to_string(n) +
                                    ", but only " + std::to_string(binary.size() - binary_used) +
                                    " bytes of binary data follow the JSON (header Inference-Header-Content-Length)");
      values = bytes_elements(binary.substr(binary_used, n), where);
      binary_used += n;
      for (size_t e = 0; e < values.size(); ++e)
        if (!valid_utf8(values[e]))
          throw RequestError(400, "field \"" + where + "\": binary element " + std::to_string(e) + " (" + name +
                                      ") is not valid UTF-8");
    } else {
      auto data = t.find("data");
      if (data == t.end()) throw RequestError(400, "missing field \"" + where + ".data\"");
      flatten(*data, where + ".data", &values);
    }
    if (static_cast<int64_t>(values.size()) != elements)
      throw RequestError(400, "field \"" + where + ".data\" has " + std::to_string(values.size()) +
                                  " elements, shape " + dump(*shape) + " needs " + std::to_string(elements));
    for (size_t e = 0; e < values.size(); ++e)
      if (values[e].empty())
        throw RequestError(400, "field \"" + where + ".data[" + std::to_string(e) + "]\" (" + name + ") is empty");
  }
  if (!have_question) throw RequestError(400, "missing input \"question\" in field \"inputs\"");
  if (!have_context) throw RequestError(400, "missing input \"context\" in field \"inputs\"");
  if (questions.size() != contexts.size())
    throw RequestError(400, "inputs \"question\" and \"context\" differ in length: " +
                                std::to_string(questions.size()) + " and " + std::to_string(contexts.size()));
  if (questions.empty()) throw RequestError(400, "inputs \"question\" and \"context\" hold no elements");
  for (size_t i = 0; i < questions.size(); ++i) {
    r.items.push_back({questions[i], contexts[i]});
    check_item(r.items.back(), "context.data[" + std::to_string(i) + "]", limits);
  }
  if (auto outputs = j.find("outputs"); outputs != j.end()) {
    if (!outputs->is_array())
      throw RequestError(400, "field \"outputs\" must be an array, got " + std::string(type_name(*outputs)));
    for (size_t i = 0; i < outputs->size(); ++i) {
      const std::string where = "outputs[" + std::to_string(i) + "]";
      if (!(*outputs)[i].is_object()) throw RequestError(400, "field \"" + where + "\" must be an object");
      const std::string name = field_string((*outputs)[i], "name", where);
      if (std::find(std::begin(kOutputs), std::end(kOutputs), name) == std::end(kOutputs))
        throw RequestError(
            400, "field \"" + where + ".name\" is \"" + name + "\"; the outputs are answer, score, start and end");
      auto p = (*outputs)[i].find("parameters");
      const bool binary_output = p != (*outputs)[i].end() && p->is_object() && p->contains("binary_data")
                                     ? p->value("binary_data", false)
                                     : r.binary_by_default;
      r.outputs.push_back(name);
      r.binary_outputs.push_back(binary_output);
    }
  }
  return r;
}

V2Response v2_response(const std::string& model, const V2Request& request,
                       const std::vector<SquadPrediction>& answers) {
  const int64_t n = static_cast<int64_t>(request.items.size());
  json answer = json::array(), score = json::array(), start = json::array(), end = json::array();
  std::string answer_raw, score_raw, start_raw, end_raw;
  for (int64_t i = 0; i < n; ++i) {
    const json a = v1_answer(request.items[i], answers.at(i));
    answer.push_back(a["answer"]);
    score.push_back(a["score"]);
    start.push_back(a["start"]);
    end.push_back(a["end"]);
    const std::string& text = answers.at(i).text;
    append_raw(&answer_raw, static_cast<uint32_t>(text.size()));
    answer_raw += text;
    append_raw(&score_raw, a["score"].get<float>());
    append_raw(&start_raw, a["start"].get<int64_t>());
    append_raw(&end_raw, a["end"].get<int64_t>());
  }
  std::vector<std::string> wanted = request.outputs;
  std::vector<bool> binary = request.binary_outputs;
  if (wanted.empty()) {
    wanted.assign(std::begin(kOutputs), std::end(kOutputs));
    binary.assign(wanted.size(), request.binary_by_default);
  }
  json outputs = json::array();
  std::string tail;
  for (size_t k = 0; k < wanted.size(); ++k) {
    const std::string& name = wanted[k];
    const char* datatype = name == "answer" ? "BYTES" : name == "score" ? "FP32" : "INT64";
    const json& data = name == "answer" ? answer : name == "score" ? score : name == "start" ? start : end;
    const std::string& raw = name == "answer"  ? answer_raw
                             : name == "score" ? score_raw
                             : name == "start" ? start_raw
                                               : end_raw;
    json t{{"name", name}, {"datatype", datatype}, {"shape", {n}}};
    if (binary[k]) {
      t["parameters"] = {{"binary_data_size", raw.size()}};
      tail += raw;
    } else {
      t["data"] = data;
    }
    outputs.push_back(std::move(t));
  }
  json out{{"model_name", model}, {"model_version", "1"}, {"outputs", std::move(outputs)}};
  if (request.has_id) out["id"] = request.id;
  V2Response response;
  response.body = dump(out);
  if (!tail.empty()) {
    response.json_length = static_cast<int64_t>(response.body.size());
    response.body += tail;
  }
  return response;
}

std::string v2_model_metadata(const std::string& model) {
  auto tensor = [](const char* name, const char* datatype) {
    return json{{"name", name}, {"datatype", datatype}, {"shape", {-1}}};
  };
  return dump(
      json{{"name", model},
           {"versions", {"1"}},
           {"platform", "fastbert"},
           {"inputs", {tensor("question", "BYTES"), tensor("context", "BYTES")}},
           {"outputs",
            {tensor("answer", "BYTES"), tensor("score", "FP32"), tensor("start", "INT64"), tensor("end", "INT64")}}});
}

std::string v2_server_metadata() {
  return dump(json{{"name", "fastbert"}, {"version", FASTBERT_VERSION}, {"extensions", json::array()}});
}

}  // namespace fastbert::serve
