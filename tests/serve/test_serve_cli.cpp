// `fastbert serve` as users run it: the ready line, one log line per request,
// a clean drain on SIGTERM, bad options refused, and the demo page working in
// a real headless browser.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "http_client.h"
#include "run_command.h"
#include "serve_fixture.h"
#include "server_process.h"
#include "test_dir.h"

namespace fastbert {
namespace {

using json = nlohmann::json;
using testing::http_request;
using testing::HttpResponse;
using testing::ServerProcess;
using namespace std::chrono_literals;

const std::string kFastbert = std::string(FASTBERT_BINARY_DIR) + "/cli/fastbert";

class ServeCliTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { testing::remove_serve_test_model(); }

  std::vector<std::string> args(std::vector<std::string> extra) const {
    const SquadWindowOptions w = testing::serve_test_windows();
    std::vector<std::string> a = {kFastbert,      "serve",
                                  "--model",      "tiny=" + testing::serve_test_model().string(),
                                  "--port",       "0",
                                  "--threads",    "1",
                                  "--max-seq",    std::to_string(w.max_seq),
                                  "--doc-stride", std::to_string(w.doc_stride),
                                  "--max-query",  std::to_string(w.max_query)};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  static std::string reference_answer(const serve::QaItem& item) {
    EngineOptions o;
    o.num_threads = 1;
    Engine engine(testing::serve_test_model(), o);
    return answer(engine, item.question, item.context, testing::serve_test_windows()).text;
  }
  static std::string body(const serve::QaItem& item) {
    return json{{"question", item.question}, {"context", item.context}}.dump();
  }
  testing::TestDir dir_{"fastbert-serve-cli"};
};

TEST_F(ServeCliTest, PrintsOneReadyLineAndLogsOneStructuredLinePerRequest) {
  ServerProcess server(args({}), dir_ / "stderr.txt");
  const std::string ready = server.ready_line(60s);
  ASSERT_NE(ready, "") << server.stderr_text();
  EXPECT_NE(ready.find("ready on http://127.0.0.1:"), std::string::npos) << ready;
  EXPECT_NE(ready.find("models=tiny"), std::string::npos) << ready;
  EXPECT_NE(ready.find("isa="), std::string::npos) << ready;
  const int port = ServerProcess::port_of(ready);
  ASSERT_GT(port, 0);
  const auto item = testing::serve_test_items(1, 21)[0];
  ASSERT_EQ(http_request(port, "POST", "/v1/qa", body(item)).status, 200);
  ASSERT_EQ(http_request(port, "GET", "/nowhere").status, 404);
  server.signal(SIGINT);
  EXPECT_EQ(server.wait_exit(20s), 0);
  const std::string log = server.stderr_text();
  for (const char* part : {"method=POST path=\"/v1/qa\" status=200", "queue_ms=", "compute_ms=", "batch=1",
                                  "method=GET path=\"/nowhere\" status=404", "time=20"})
    EXPECT_NE(log.find(part), std::string::npos) << part << " not in\n" << log;
}

// 40 requests wait in a batch that gathers for 1.5 s; SIGTERM arrives while
// they wait. Every one of them is answered, correctly, the process exits 0,
// and a new connection after the drain is refused; meanwhile readiness is
// false on a connection that was open.
TEST_F(ServeCliTest, SigtermAnswersEveryAcceptedRequestAndExitsZero) {
  ServerProcess server(args({"--max-batch", "512", "--max-delay-ms", "1500", "--quiet"}), dir_ / "stderr.txt");
  const int port = ServerProcess::port_of(server.ready_line(60s));
  ASSERT_GT(port, 0) << server.stderr_text();
  const auto items = testing::serve_test_items(40, 22);
  std::vector<HttpResponse> responses(items.size());
  std::vector<std::thread> clients;
  for (size_t i = 0; i < items.size(); ++i)
    clients.emplace_back([&, i] { responses[i] = http_request(port, "POST", "/v1/qa", body(items[i])); });
  // Until all 40 wait in the queue (bounded: 10 s).
  for (int k = 0; k < 500; ++k) {
    const std::string m = http_request(port, "GET", "/metrics").body;
    if (m.find("fastbert_queue_depth{model=\"tiny\"} 40\n") != std::string::npos) break;
    std::this_thread::sleep_for(20ms);
  }
  // A keep-alive connection opened before the drain: readiness turns false
  // on it (so an orchestrator stops routing here) and it is told to close.
  testing::RawConnection kept(port);
  const std::string ready_request = "GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(kept.send_all(ready_request));
  EXPECT_EQ(kept.read_response(5s).status, 200);
  server.signal(SIGTERM);
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(kept.send_all(ready_request));
  const HttpResponse draining = kept.read_response(5s);
  EXPECT_EQ(draining.status, 400) << "ready while draining";
  EXPECT_EQ(draining.headers.count("connection") ? draining.headers.at("connection") : "", "close");
  for (auto& c : clients) c.join();
  EXPECT_EQ(server.wait_exit(30s), 0) << server.stderr_text();
  for (size_t i = 0; i < items.size(); ++i) {
    ASSERT_EQ(responses[i].status, 200) << i << ": " << responses[i].body << "\n" << server.stderr_text();
    EXPECT_EQ(json::parse(responses[i].body)["answer"].get<std::string>(), reference_answer(items[i])) << i;
  }
  EXPECT_EQ(http_request(port, "GET", "/v2/health/live", "", "", 2000ms).status, 0) << "still accepting";
}

TEST_F(ServeCliTest, RefusesAMaxSeqLongerThanTheModelsPositionsAndAMissingModel) {
  const auto [code, out] = testing::run_command(kFastbert + " serve --model " + testing::serve_test_model().string() +
                                                " --port 0 --max-seq 384 2>&1");
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("positions, fewer than --max-seq 384"), std::string::npos) << out;
  const auto [code2, out2] =
      testing::run_command(kFastbert + " serve --model " + (dir_ / "absent.fbm").string() + " --port 0 2>&1");
  EXPECT_NE(code2, 0);
  EXPECT_NE(out2.find("absent.fbm is not a file"), std::string::npos) << out2;
}

// The shipped manifests run this binary: their container arguments start a
// server (with the test model, on loopback and an ephemeral port), and the
// paths their probes ask answer 200 once it is ready, as does inference on
// the model name they give.
TEST_F(ServeCliTest, DeployManifestsArgumentsStartTheServerAndTheirProbesAnswer) {
  for (const std::string name : {"kubernetes.yaml", "kserve-inferenceservice.yaml"}) {
    SCOPED_TRACE(name);
    YAML::Node container;
    for (const YAML::Node& doc : YAML::LoadAllFromFile(std::string(FASTBERT_SOURCE_DIR) + "/deploy/" + name)) {
      const std::string kind = doc["kind"].as<std::string>();
      if (kind == "Deployment") container = doc["spec"]["template"]["spec"]["containers"][0];
      if (kind == "InferenceService") container = doc["spec"]["predictor"]["containers"][0];
    }
    ASSERT_TRUE(container.IsDefined());
    std::vector<std::string> args = {kFastbert};
    std::string model_name;
    const auto manifest_args = container["args"].as<std::vector<std::string>>();
    for (size_t i = 0; i < manifest_args.size(); ++i) {
      const std::string& a = manifest_args[i];
      args.push_back(a);
      if (i + 1 == manifest_args.size()) break;
      if (a == "--model") {
        model_name = manifest_args[i + 1].substr(0, manifest_args[i + 1].find('='));
        args.push_back(model_name + "=" + testing::serve_test_model().string());
      } else if (a == "--host") {
        args.push_back("127.0.0.1");
      } else if (a == "--port") {
        args.push_back("0");
      } else {
        continue;
      }
      ++i;
    }
    const SquadWindowOptions w = testing::serve_test_windows();
    for (const std::string& a :
         std::vector<std::string>{"--max-seq", std::to_string(w.max_seq), "--doc-stride", std::to_string(w.doc_stride),
                                  "--max-query", std::to_string(w.max_query)})
      args.push_back(a);
    ServerProcess server(args, dir_ / "stderr.txt");
    const int port = ServerProcess::port_of(server.ready_line(60s));
    ASSERT_GT(port, 0) << server.stderr_text();
    for (const char* probe : {"readinessProbe", "livenessProbe"}) {
      const std::string path = container[probe]["httpGet"]["path"].as<std::string>();
      EXPECT_EQ(http_request(port, "GET", path).status, 200) << probe << " " << path;
    }
    const json infer = {
        {"inputs",
         {{{"name", "question"}, {"datatype", "BYTES"}, {"shape", {1}}, {"data", {"who won?"}}},
          {{"name", "context"}, {"datatype", "BYTES"}, {"shape", {1}}, {"data", {"the broncos won"}}}}}};
    EXPECT_EQ(http_request(port, "POST", "/v2/models/" + model_name + "/infer", infer.dump()).status, 200);
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait_exit(20s), 0);
  }
}

// The page at / in Debian's Chromium, headless: it fills the form from the
// query, asks the running server, and the DOM it dumps shows the answer
// highlighted in the context. Skipped where Chromium is not installed
// (scripts/install-deps.sh installs it).
TEST_F(ServeCliTest, DemoPageShowsTheServersAnswerInHeadlessChromium) {
  std::string chromium;
  for (const char* c : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (std::filesystem::exists(c)) chromium = c;
  if (chromium.empty()) GTEST_SKIP() << "Chromium is not installed (apt-get install chromium); page test skipped";
  ServerProcess server(args({"--quiet"}), dir_ / "stderr.txt");
  const int port = ServerProcess::port_of(server.ready_line(60s));
  ASSERT_GT(port, 0) << server.stderr_text();
  const serve::QaItem item{"who won the game?", "the broncos won the game in santa clara. the team was denver."};
  const std::string answer = reference_answer(item);
  ASSERT_FALSE(answer.empty());
  auto escape = [](const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
      if (std::isalnum(c))
        out += static_cast<char>(c);
      else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", c);
        out += buf;
      }
    }
    return out;
  };
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/?question=" + escape(item.question) +
                          "&context=" + escape(item.context);
  const auto [code, dom] =
      testing::run_command("timeout 90 " + chromium +
                           " --headless --no-sandbox --disable-gpu --no-proxy-server --no-first-run "
                           "--user-data-dir=" +
                           (dir_ / "chromium").string() + " --virtual-time-budget=15000 --dump-dom '" + url + "' 2>" +
                           (dir_ / "chromium.log").string());
  ASSERT_EQ(code, 0) << dom;
  EXPECT_NE(dom.find("<mark>" + answer + "</mark>"), std::string::npos) << "answer \"" << answer << "\" not in\n"
                                                                        << dom;
  EXPECT_NE(dom.find("id=\"status\" class=\"meta\">answered<"), std::string::npos) << dom;
  EXPECT_NE(dom.find(" ms</span>"), std::string::npos) << "no latency shown";
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(20s), 0);
}

}  // namespace
}  // namespace fastbert
