// The service in this process (serve::QaServer on an ephemeral loopback
// port), driven over real HTTP: answers equal Engine::answer, every kind of
// bad input gets its status and a message naming what is wrong, batching
// groups concurrent requests, and abusive clients do not hold up others.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "fastbert/common/error.h"
#include "fastbert/serve/api_key.h"
#include "fastbert/serve/qa_server.h"
#include "http_client.h"
#include "serve_fixture.h"

namespace fastbert {
namespace {

using json = nlohmann::json;
using testing::http_request;
using testing::HttpResponse;
using testing::RawConnection;
using namespace std::chrono_literals;

class ServeTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { testing::remove_serve_test_model(); }

  void start(serve::BatcherOptions b = {}, serve::ServerOptions s = {}, std::vector<std::string> models = {"tiny"}) {
    b.windows = testing::serve_test_windows();
    if (b.threads == 0) b.threads = 1;
    s.port = 0;
    s.quiet = true;
    std::vector<serve::ModelSpec> specs;
    for (const auto& name : models) specs.push_back({name, testing::serve_test_model()});
    server_ = std::make_unique<serve::QaServer>(specs, b, s);
    server_->wait_ready();
  }
  int port() const { return server_->port(); }

  static SquadPrediction reference(const serve::QaItem& item) {
    // One thread, as the served engine runs in these tests.
    static Engine engine(testing::serve_test_model(), [] {
      EngineOptions o;
      o.num_threads = 1;
      return o;
    }());
    static std::mutex mutex;
    std::lock_guard<std::mutex> lock(mutex);
    return answer(engine, item.question, item.context, testing::serve_test_windows());
  }
  static json v1_body(const serve::QaItem& item) {
    return json{{"question", item.question}, {"context", item.context}};
  }
  static HttpResponse post(int port, const std::string& path, const std::string& body,
                           const std::string& headers = "") {
    return http_request(port, "POST", path, body, headers);
  }
  // A v1 answer object against Engine::answer: the text byte for byte, the
  // offsets as code points of the same span, the same score.
  static void expect_matches(const json& got, const serve::QaItem& item) {
    const SquadPrediction want = reference(item);
    ASSERT_TRUE(got.is_object()) << got.dump();
    EXPECT_EQ(got.at("answer").get<std::string>(), want.text);
    EXPECT_EQ(got.at("score").get<float>(), want.score);
    EXPECT_EQ(got.at("start").get<int64_t>(), serve::code_points_before(item.context, want.begin));
    EXPECT_EQ(got.at("end").get<int64_t>(), serve::code_points_before(item.context, want.end));
  }
  double metric(const std::string& line_prefix) {
    const HttpResponse r = http_request(port(), "GET", "/metrics");
    std::istringstream in(r.body);
    for (std::string line; std::getline(in, line);)
      if (line.rfind(line_prefix + " ", 0) == 0) return std::stod(line.substr(line_prefix.size() + 1));
    return -1;
  }

  std::unique_ptr<serve::QaServer> server_;
};

TEST_F(ServeTest, V1AnswersEqualEngineAnswerByteForByte) {
  start();
  const auto items = testing::serve_test_items(12, 1);
  for (const auto& item : items) {
    const HttpResponse r = post(port(), "/v1/qa", v1_body(item).dump());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
    expect_matches(json::parse(r.body), item);
  }
  // The list form answers in the same order.
  json inputs = json::array();
  for (const auto& item : items) inputs.push_back(v1_body(item));
  const HttpResponse r = post(port(), "/v1/qa", json{{"inputs", inputs}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const json list = json::parse(r.body);
  ASSERT_EQ(list.size(), items.size());
  for (size_t i = 0; i < items.size(); ++i) expect_matches(list[i], items[i]);
}

TEST_F(ServeTest, CharacterOffsetsCountCodePointsOfANonAsciiContext) {
  start();
  const serve::QaItem item{"who won the game?", "caf\xc3\xa9 na\xc3\xafve the broncos won the game in santa clara"};
  const HttpResponse r = post(port(), "/v1/qa", v1_body(item).dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const json got = json::parse(r.body);
  expect_matches(got, item);
  // The offsets index the context as code points: the span is the answer.
  std::u32string cps;
  for (size_t i = 0; i < item.context.size();) {
    const unsigned char c = static_cast<unsigned char>(item.context[i]);
    const size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    cps.push_back(c);
    i += len;
  }
  EXPECT_LE(got["end"].get<int64_t>(), static_cast<int64_t>(cps.size()));
  EXPECT_GT(got["start"].get<int64_t>(), 9) << "the answer lies after two accented words";
}

TEST_F(ServeTest, V2InferAnswersEqualEngineAnswerInTheProtocolsShapes) {
  start();
  const auto items = testing::serve_test_items(6, 2);
  json questions = json::array(), contexts = json::array();
  for (const auto& item : items) questions.push_back(item.question), contexts.push_back(item.context);
  const json request = {{"id", "req-7"},
                        {"inputs",
                         {{{"name", "question"}, {"datatype", "BYTES"}, {"shape", {6}}, {"data", questions}},
                          {{"name", "context"}, {"datatype", "BYTES"}, {"shape", {6}}, {"data", contexts}}}}};
  const HttpResponse r = post(port(), "/v2/models/tiny/infer", request.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const json got = json::parse(r.body);
  EXPECT_EQ(got["model_name"], "tiny");
  EXPECT_EQ(got["id"], "req-7");
  std::map<std::string, json> outputs;
  for (const json& o : got["outputs"]) outputs[o["name"]] = o;
  ASSERT_EQ(outputs.size(), 4u);
  EXPECT_EQ(outputs["answer"]["datatype"], "BYTES");
  EXPECT_EQ(outputs["score"]["datatype"], "FP32");
  EXPECT_EQ(outputs["start"]["datatype"], "INT64");
  EXPECT_EQ(outputs["end"]["datatype"], "INT64");
  for (auto& [name, o] : outputs) EXPECT_EQ(o["shape"], json({6})) << name;
  for (size_t i = 0; i < items.size(); ++i)
    expect_matches(json{{"answer", outputs["answer"]["data"][i]},
                        {"score", outputs["score"]["data"][i]},
                        {"start", outputs["start"]["data"][i]},
                        {"end", outputs["end"]["data"][i]}},
                   items[i]);

  // Requested outputs only, in the order asked; a nested [n, 1] tensor and
  // the versioned path are accepted.
  const json subset = {
      {"inputs",
       {{{"name", "context"}, {"datatype", "BYTES"}, {"shape", {1, 1}}, {"data", {{items[0].context}}}},
        {{"name", "question"}, {"datatype", "BYTES"}, {"shape", {1, 1}}, {"data", {{items[0].question}}}}}},
      {"outputs", {{{"name", "end"}}, {{"name", "answer"}}}}};
  const HttpResponse s = post(port(), "/v2/models/tiny/versions/1/infer", subset.dump());
  ASSERT_EQ(s.status, 200) << s.body;
  const json sub = json::parse(s.body);
  ASSERT_EQ(sub["outputs"].size(), 2u);
  EXPECT_EQ(sub["outputs"][0]["name"], "end");
  EXPECT_EQ(sub["outputs"][1]["data"][0].get<std::string>(), reference(items[0]).text);
  EXPECT_FALSE(sub.contains("id"));
}

// The binary tensor data extension, as tritonclient.http sends it by default
// (checked by hand with tritonclient 2.73.0 against this server): the JSON part,
// then each input's BYTES elements as 4-byte little-endian lengths and bytes;
// outputs asked for in binary come back the same way after the JSON.
TEST_F(ServeTest, V2BinaryTensorExtensionRoundTripsAsTritonClientUsesIt) {
  start();
  const auto items = testing::serve_test_items(3, 12);
  auto raw_bytes = [](const std::vector<std::string>& elements) {
    std::string raw;
    for (const std::string& e : elements) {
      const uint32_t n = static_cast<uint32_t>(e.size());
      raw.append(reinterpret_cast<const char*>(&n), 4);
      raw += e;
    }
    return raw;
  };
  std::vector<std::string> questions, contexts;
  for (const auto& item : items) questions.push_back(item.question), contexts.push_back(item.context);
  const std::string q = raw_bytes(questions), c = raw_bytes(contexts);
  const json header = {
      {"inputs",
       {{{"name", "question"}, {"datatype", "BYTES"}, {"shape", {3}}, {"parameters", {{"binary_data_size", q.size()}}}},
        {{"name", "context"}, {"datatype", "BYTES"}, {"shape", {3}}, {"parameters", {{"binary_data_size", c.size()}}}}}},
      {"parameters", {{"binary_data_output", true}}}};
  const std::string json_part = header.dump();
  const HttpResponse r = post(port(), "/v2/models/tiny/infer", json_part + q + c,
                              "Inference-Header-Content-Length: " + std::to_string(json_part.size()) + "\r\n");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(r.headers.count("inference-header-content-length"));
  const size_t json_length = std::stoul(r.headers.at("inference-header-content-length"));
  const json got = json::parse(r.body.substr(0, json_length));
  size_t at = json_length;
  std::map<std::string, std::string> raw;
  for (const json& o : got["outputs"]) {
    ASSERT_FALSE(o.contains("data")) << o.dump();
    const size_t n = o["parameters"]["binary_data_size"].get<size_t>();
    raw[o["name"]] = r.body.substr(at, n);
    at += n;
  }
  EXPECT_EQ(at, r.body.size());
  size_t pos = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    uint32_t n = 0;
    std::memcpy(&n, raw["answer"].data() + pos, 4);
    const std::string answer = raw["answer"].substr(pos + 4, n);
    pos += 4 + n;
    float score = 0;
    int64_t begin = 0, end = 0;
    std::memcpy(&score, raw["score"].data() + 4 * i, 4);
    std::memcpy(&begin, raw["start"].data() + 8 * i, 8);
    std::memcpy(&end, raw["end"].data() + 8 * i, 8);
    expect_matches(json{{"answer", answer}, {"score", score}, {"start", begin}, {"end", end}}, items[i]);
  }
  // A size past the binary data that follows is refused, naming the field.
  const HttpResponse bad = post(port(), "/v2/models/tiny/infer", json_part + q,
                                "Inference-Header-Content-Length: " + std::to_string(json_part.size()) + "\r\n");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("inputs[1].parameters.binary_data_size"), std::string::npos) << bad.body;
}

TEST_F(ServeTest, V2HealthAndMetadataEndpointsAnswerAsTheProtocolWrites) {
  start();
  const HttpResponse live = http_request(port(), "GET", "/v2/health/live");
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(live.body, "") << "the protocol's health answers are the status alone";
  EXPECT_EQ(http_request(port(), "GET", "/v2/health/ready").status, 200);
  EXPECT_EQ(http_request(port(), "GET", "/v2/models/tiny/ready").status, 200);
  EXPECT_EQ(http_request(port(), "GET", "/v2/models/tiny/versions/1/ready").status, 200);
  const json server = json::parse(http_request(port(), "GET", "/v2").body);
  EXPECT_EQ(server["name"], "fastbert");
  EXPECT_TRUE(server.contains("version") && server.contains("extensions"));
  const json model = json::parse(http_request(port(), "GET", "/v2/models/tiny").body);
  EXPECT_EQ(model["name"], "tiny");
  EXPECT_EQ(model["inputs"].size(), 2u);
  EXPECT_EQ(model["inputs"][0]["name"], "question");
  EXPECT_EQ(model["inputs"][0]["datatype"], "BYTES");
  EXPECT_EQ(model["outputs"].size(), 4u);
  const HttpResponse v2 = http_request(port(), "GET", "/v2/models/tiny/versions/2/ready");
  EXPECT_EQ(v2.status, 404);
  EXPECT_NE(v2.body.find("no version \\\"2\\\""), std::string::npos) << v2.body;
}

struct BadCase {
  std::string path, method, body;
  int status;
  std::vector<std::string> message_holds;
};

TEST_F(ServeTest, EveryKindOfBadInputGetsItsStatusAndAMessageNamingTheField) {
  serve::ServerOptions s;
  s.max_body_bytes = 4096;
  s.fields.max_context_chars = 500;
  serve::BatcherOptions b;
  b.max_queue = 8;
  start(b, s);
  const std::string q = "\"question\": \"who won?\"";
  const std::string v2_tail =
      R"(, {"name": "context", "datatype": "BYTES", "shape": [1], "data": ["the broncos won"]}]})";
  const std::vector<BadCase> cases = {
      {"/v1/qa", "POST", "{\"question\": \"who\", ", 400, {"not valid JSON"}},
      {"/v1/qa", "POST", "{\"question\": \"who\", \"x\": 1e99999}", 400, {"not valid JSON", "number overflow"}},
      {"/v1/qa", "POST", "[1, 2]", 400, {"must be a JSON object"}},
      {"/v1/qa",
       "POST",
       "{\"question\": 7, \"context\": \"x\"}",
       400,
       {"\\\"question\\\"", "must be a string", "number"}},
      {"/v1/qa", "POST", "{" + q + "}", 400, {"missing field", "\\\"context\\\""}},
      {"/v1/qa", "POST", "{\"question\": \"\", \"context\": \"the game\"}", 400, {"\\\"question\\\"", "is empty"}},
      {"/v1/qa", "POST", "{" + q + ", \"context\": \"\"}", 400, {"\\\"context\\\"", "is empty"}},
      {"/v1/qa", "POST", "{" + q + ", \"context\": \"the \xc3\x28 game\"}", 400, {"\\\"context\\\"", "UTF-8"}},
      {"/v1/qa",
       "POST",
       "{\"inputs\": [{" + q + ", \"context\": \"a\"}, {" + q + "}]}",
       400,
       {"inputs[1].context", "missing"}},
      {"/v1/qa",
       "POST",
       "{\"inputs\": [{" + q + ", \"context\": \"ok\"}, {" + q + ", \"context\": \"\xff\"}]}",
       400,
       {"inputs[1].context", "UTF-8"}},
      {"/v1/qa", "POST", "{\"inputs\": {}}", 400, {"\\\"inputs\\\"", "must be an array"}},
      {"/v1/qa",
       "POST",
       "{" + q + ", \"context\": \"" + std::string(501, 'a') + "\"}",
       422,
       {"\\\"context\\\"", "501 characters", "limit of 500"}},
      {"/v1/qa",
       "POST",
       "{" + q + ", \"context\": \"" + std::string(5000, 'a') + "\"}",
       413,
       {"over the limit of 4096"}},
      {"/v1/qa",
       "POST",
       "{\"inputs\": [" +
           [&] {
             std::string s;
             for (int i = 0; i < 9; ++i) s += std::string(i ? "," : "") + "{" + q + ", \"context\": \"a\"}";
             return s;
           }() +
           "]}",
       422,
       {"9 questions", "--max-queue"}},
      {"/v2/models/tiny/infer",
       "POST",
       R"({"inputs": [{"name": "question", "datatype": "FP32", "shape": [1], "data": [1]})" + v2_tail,
       400,
       {"inputs[0].datatype", "BYTES"}},
      {"/v2/models/tiny/infer",
       "POST",
       R"({"inputs": [{"name": "question", "datatype": "BYTES", "shape": [2], "data": ["who"]})" + v2_tail,
       400,
       {"inputs[0].data", "1 elements", "needs 2"}},
      {"/v2/models/tiny/infer",
       "POST",
       R"({"inputs": [{"name": "query", "datatype": "BYTES", "shape": [1], "data": ["who"]})" + v2_tail,
       400,
       {"inputs[0].name", "\\\"query\\\""}},
      {"/v2/models/tiny/infer",
       "POST",
       R"({"inputs": [{"name": "question", "datatype": "BYTES", "shape": [1], "data": [3]})" + v2_tail,
       400,
       {"inputs[0].data[0]", "must be a string"}},
      {"/v2/models/tiny/infer", "POST", R"({"inputs": []})", 400, {"missing input \\\"question\\\""}},
      {"/v2/models/other/infer", "POST", "{}", 404, {"no model named \\\"other\\\"", "tiny"}},
      {"/v1/answer", "POST", "{}", 404, {"no endpoint /v1/answer"}},
      {"/v1/qa", "GET", "", 405, {"method GET is not allowed", "POST"}},
      {"/v2/health/ready", "POST", "{}", 405, {"method POST"}},
  };
  for (const BadCase& c : cases) {
    const HttpResponse r = http_request(port(), c.method, c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.body.substr(0, 200) << "\n" << r.body;
    ASSERT_NO_THROW(json::parse(r.body).at("error")) << r.body;
    for (const std::string& part : c.message_holds)
      EXPECT_NE(r.body.find(part), std::string::npos) << "\"" << part << "\" not in " << r.body;
    if (c.status == 405) {
      EXPECT_TRUE(r.headers.count("allow")) << c.path;
    }
  }
  // And the server still answers.
  EXPECT_EQ(post(port(), "/v1/qa", "{" + q + ", \"context\": \"the broncos won\"}").status, 200);
}

TEST_F(ServeTest, ChunkedBodyThatGrowsPastTheLimitGets413) {
  serve::ServerOptions s;
  s.max_body_bytes = 1024;
  start({}, s);
  RawConnection c(port());
  std::string request = "POST /v1/qa HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  for (int i = 0; i < 4; ++i) request += "200\r\n" + std::string(512, ' ') + "\r\n";
  request += "0\r\n\r\n";
  ASSERT_TRUE(c.send_all(request));
  const HttpResponse r = c.read_response(10s);
  EXPECT_EQ(r.status, 413) << r.body;
}

TEST_F(ServeTest, WithAnApiKeyOnlyTheRightBearerKeyIsServed) {
  serve::ServerOptions s;
  s.api_key = "s3cret-key-0123";
  start({}, s);
  const std::string body = v1_body(testing::serve_test_items(1, 3)[0]).dump();
  HttpResponse none = post(port(), "/v1/qa", body);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.headers["www-authenticate"].rfind("Bearer", 0), 0u);
  for (const char* wrong : {"s3cret-key-0124", "s3cret-key-012", "s3cret-key-01234", "S3cret-key-0123", ""})
    EXPECT_EQ(post(port(), "/v1/qa", body, "Authorization: Bearer " + std::string(wrong) + "\r\n").status, 401) << wrong;
  EXPECT_EQ(post(port(), "/v1/qa", body, "Authorization: Basic s3cret-key-0123\r\n").status, 401);
  EXPECT_EQ(http_request(port(), "GET", "/v2/models/tiny", "", "").status, 401);
  EXPECT_EQ(post(port(), "/v1/qa", body, "Authorization: Bearer s3cret-key-0123\r\n").status, 200);
  // The orchestrator's probes and the scraper need no key.
  EXPECT_EQ(http_request(port(), "GET", "/v2/health/ready").status, 200);
  EXPECT_EQ(http_request(port(), "GET", "/metrics").status, 200);
}

TEST(ApiKey, ComparisonRefusesPrefixesExtensionsAndEveryOneByteChange) {
  const std::string key = "0123456789abcdef";
  EXPECT_TRUE(serve::equal_in_constant_time(key, key));
  EXPECT_FALSE(serve::equal_in_constant_time("", key));
  EXPECT_FALSE(serve::equal_in_constant_time(key.substr(0, 15), key));
  EXPECT_FALSE(serve::equal_in_constant_time(key + "0", key));
  EXPECT_FALSE(serve::equal_in_constant_time(key + std::string(1, '\0'), key));
  for (size_t i = 0; i < key.size(); ++i) {
    std::string k = key;
    k[i] ^= 1;
    EXPECT_FALSE(serve::equal_in_constant_time(k, key)) << i;
  }
}

TEST_F(ServeTest, TwoHundredConcurrentRequestsOnTwoWorkersAreBatchedAndEachGetsItsOwnAnswer) {
  serve::BatcherOptions b;
  b.max_batch = 16;
  b.max_delay = 20ms;
  b.threads = 2;  // two workers, one engine each, taking batches off one queue
  start(b);
  const auto items = testing::serve_test_items(200, 4);
  std::vector<HttpResponse> responses(items.size());
  std::vector<std::thread> clients;
  std::atomic<size_t> next{0};
  for (int t = 0; t < 50; ++t)
    clients.emplace_back([&] {
      for (size_t i; (i = next++) < items.size();) responses[i] = post(port(), "/v1/qa", v1_body(items[i]).dump());
    });
  for (auto& c : clients) c.join();
  for (size_t i = 0; i < items.size(); ++i) {
    ASSERT_EQ(responses[i].status, 200) << i << ": " << responses[i].body;
    expect_matches(json::parse(responses[i].body), items[i]);
  }
  const double batches = metric("fastbert_batch_windows_count{model=\"tiny\"}");
  const double single = metric("fastbert_batch_windows_bucket{model=\"tiny\",le=\"1\"}");
  const double windows = metric("fastbert_batch_windows_sum{model=\"tiny\"}");
  EXPECT_GT(batches, single) << "no batch held more than one window";
  EXPECT_LT(batches, 200) << "200 requests ran in " << batches << " batches";
  std::printf("200 requests (%.0f windows) ran in %.0f batches, %.0f of one window\n", windows, batches, single);
}

TEST_F(ServeTest, SeveralModelsAreServedEachUnderItsName) {
  start({}, {}, {"first", "second"});
  const auto item = testing::serve_test_items(1, 9)[0];
  const HttpResponse v1 = post(port(), "/v1/qa?model=second", v1_body(item).dump());
  ASSERT_EQ(v1.status, 200) << v1.body;
  expect_matches(json::parse(v1.body), item);
  EXPECT_EQ(metric("fastbert_requests_total{model=\"second\",endpoint=\"v1_qa\",status=\"200\"}"), 1);
  EXPECT_EQ(json::parse(http_request(port(), "GET", "/v2/models/first").body)["name"], "first");
  EXPECT_EQ(http_request(port(), "GET", "/v2/models/second/ready").status, 200);
  const HttpResponse unknown = post(port(), "/v1/qa?model=third", v1_body(item).dump());
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("the models are first, second"), std::string::npos) << unknown.body;
  EXPECT_THROW(serve::QaServer({{"same", testing::serve_test_model()}, {"same", testing::serve_test_model()}}, {}, {}),
               Error);
}

// Good and bad requests arrive together while a batch gathers for 500 ms:
// every bad one gets its 400 and every good one its own correct answer.
TEST_F(ServeTest, BadRequestsArrivingWithGoodOnesDoNotAffectThem) {
  serve::BatcherOptions b;
  b.max_batch = 64;
  b.max_delay = 500ms;
  start(b);
  const auto items = testing::serve_test_items(16, 10);
  std::vector<std::string> bodies;
  for (size_t i = 0; i < items.size(); ++i) {
    bodies.push_back(v1_body(items[i]).dump());
    if (i % 4 == 1) bodies.back() = "{\"question\": \"who?\", \"context\": 5}";
    if (i % 4 == 3) bodies.back() = "{\"inputs\": [" + v1_body(items[i]).dump() + ", {\"question\": \"\"}]}";
  }
  std::vector<HttpResponse> responses(items.size());
  std::vector<std::thread> clients;
  for (size_t i = 0; i < items.size(); ++i)
    clients.emplace_back([&, i] { responses[i] = post(port(), "/v1/qa", bodies[i]); });
  for (auto& c : clients) c.join();
  for (size_t i = 0; i < items.size(); ++i) {
    if (i % 2 == 1) {
      EXPECT_EQ(responses[i].status, 400) << responses[i].body;
      continue;
    }
    ASSERT_EQ(responses[i].status, 200) << responses[i].body;
    expect_matches(json::parse(responses[i].body), items[i]);
  }
  EXPECT_LT(metric("fastbert_batch_windows_count{model=\"tiny\"}"), 8) << "the good requests did not share batches";
}

TEST_F(ServeTest, AFullQueueGets503WithRetryAfterAndTheAdmittedAreAnswered) {
  serve::BatcherOptions b;
  b.max_queue = 2;
  b.max_batch = 64;
  b.max_delay = 1000ms;  // the first batch gathers while the others arrive
  start(b);
  const auto items = testing::serve_test_items(12, 5);
  std::vector<HttpResponse> responses(items.size());
  std::vector<std::thread> clients;
  for (size_t i = 0; i < items.size(); ++i)
    clients.emplace_back([&, i] { responses[i] = post(port(), "/v1/qa", v1_body(items[i]).dump()); });
  for (auto& c : clients) c.join();
  int ok = 0, full = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (responses[i].status == 200) {
      ++ok;
      expect_matches(json::parse(responses[i].body), items[i]);
    } else {
      ASSERT_EQ(responses[i].status, 503) << responses[i].body;
      EXPECT_EQ(responses[i].headers["retry-after"], "1");
      EXPECT_NE(responses[i].body.find("queue is full"), std::string::npos) << responses[i].body;
      ++full;
    }
  }
  EXPECT_GE(ok, 2);
  EXPECT_GE(full, 1);
}

TEST_F(ServeTest, ARequestWaitingPastTheTimeoutGets504) {
  serve::BatcherOptions b;
  b.timeout = 5ms;
  b.max_batch = 64;
  b.max_delay = 100ms;  // a lone request waits this long for company
  start(b);
  const HttpResponse r = post(port(), "/v1/qa", v1_body(testing::serve_test_items(1, 6)[0]).dump());
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_NE(r.body.find("--timeout-ms"), std::string::npos) << r.body;
}

// 300 idle connections, 20 slowloris clients trickling their headers and a
// client announcing a 50 MB body: a normal request is still answered within
// the bound (the tiny model answers in about a millisecond; the bound allows
// for a loaded 2-core machine).
TEST_F(ServeTest, IdleSlowAndOversizedClientsDoNotDelayANormalRequest) {
  serve::ServerOptions s;
  s.max_body_bytes = 64 * 1024;
  start({}, s);
  const auto item = testing::serve_test_items(1, 7)[0];
  const std::string body = v1_body(item).dump();
  const HttpResponse before = post(port(), "/v1/qa", body);
  ASSERT_EQ(before.status, 200);

  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 300; ++i) {
    idle.push_back(std::make_unique<RawConnection>(port()));
    ASSERT_GE(idle.back()->fd(), 0) << "connection " << i << " refused";
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> slow;
  struct JoinAll {  // also when an assertion ends the test early
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~JoinAll() {
      stop = true;
      for (auto& t : threads)
        if (t.joinable()) t.join();
    }
  } join_all{stop, slow};
  for (int i = 0; i < 20; ++i)
    slow.emplace_back([&] {
      RawConnection c(port());
      const std::string head = "POST /v1/qa HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nX-Slow: ";
      for (size_t k = 0; !stop && k < 10000; ++k) {
        if (!c.send_all(std::string(1, k < head.size() ? head[k] : 'a'))) return;
        std::this_thread::sleep_for(20ms);
      }
    });
  RawConnection big(port());
  ASSERT_TRUE(
      big.send_all("POST /v1/qa HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n" + std::string(65536, 'x')));
  std::this_thread::sleep_for(200ms);

  std::vector<double> ms;
  for (int i = 0; i < 5; ++i) {
    const HttpResponse r = post(port(), "/v1/qa", body);
    ASSERT_EQ(r.status, 200) << r.body;
    expect_matches(json::parse(r.body), item);
    ms.push_back(r.ms);
  }
  const HttpResponse refused = big.read_response(5s);
  EXPECT_EQ(refused.status, 413);
  const double worst = *std::max_element(ms.begin(), ms.end());
  std::printf("with 300 idle, 20 slow and 1 oversized client: normal requests %.1f..%.1f ms (alone: %.1f ms)\n",
              *std::min_element(ms.begin(), ms.end()), worst, before.ms);
  EXPECT_LT(worst, 1000.0);
}

TEST_F(ServeTest, MetricsAreInThePrometheusTextFormat) {
  start();
  ASSERT_EQ(post(port(), "/v1/qa", v1_body(testing::serve_test_items(1, 8)[0]).dump()).status, 200);
  ASSERT_EQ(post(port(), "/v1/qa", "{}").status, 400);
  HttpResponse r = http_request(port(), "GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"].rfind("text/plain; version=0.0.4", 0), 0u);
  for (const char* family :
       {"fastbert_requests_total counter", "fastbert_queue_seconds histogram", "fastbert_compute_seconds histogram",
        "fastbert_batch_windows histogram", "fastbert_request_windows histogram", "fastbert_queue_depth gauge"})
    EXPECT_NE(r.body.find("# TYPE " + std::string(family) + "\n"), std::string::npos) << family;
  EXPECT_EQ(metric("fastbert_requests_total{model=\"tiny\",endpoint=\"v1_qa\",status=\"200\"}"), 1);
  EXPECT_EQ(metric("fastbert_requests_total{model=\"tiny\",endpoint=\"v1_qa\",status=\"400\"}"), 1);
  EXPECT_EQ(metric("fastbert_queue_seconds_count{model=\"tiny\"}"), 1);
  EXPECT_EQ(metric("fastbert_queue_seconds_bucket{model=\"tiny\",le=\"+Inf\"}"), 1);
  EXPECT_EQ(metric("fastbert_compute_seconds_count{model=\"tiny\"}"), 1);
  EXPECT_EQ(metric("fastbert_queue_depth{model=\"tiny\"}"), 0);
  // Every line is a comment or `name{labels} value`.
  std::istringstream in(r.body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# ", 0) == 0) continue;
    const size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    EXPECT_NO_THROW(std::stod(line.substr(space + 1) == "+Inf" ? "inf" : line.substr(space + 1))) << line;
  }
}

TEST_F(ServeTest, DemoPageIsOneSelfContainedHtmlDocument) {
  start();
  HttpResponse r = http_request(port(), "GET", "/");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"].rfind("text/html", 0), 0u);
  EXPECT_NE(r.body.find("fetch(\"/v1/qa\""), std::string::npos);
  for (const char* external : {"src=\"http", "href=\"http", "src=\"//", "@import"})
    EXPECT_EQ(r.body.find(external), std::string::npos) << external;
}

}  // namespace
}  // namespace fastbert
