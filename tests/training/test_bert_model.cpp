#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "fastbert/common/error.h"
#include "fastbert/formats/safetensors.h"
#include "fastbert/model/checkpoint.h"
#include "training_fixtures.h"

namespace fastbert {
namespace {
namespace fs = std::filesystem;
using testing::TestDir;
using testing::tiny_config;

struct Input {
  torch::Tensor ids, types, mask;
};

Input fixed_input(int64_t vocab) {
  auto ids = torch::tensor({{1, 5, 9, 2, 7, 7, 30, 2, 0, 0}, {1, 4, 2, 11, 12, 13, 14, 15, 16, 2}}, torch::kInt64);
  ids = ids.remainder(vocab);
  auto types = torch::tensor({{0, 0, 0, 0, 1, 1, 1, 1, 0, 0}, {0, 0, 0, 1, 1, 1, 1, 1, 1, 1}}, torch::kInt64);
  auto mask = torch::tensor({{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}}, torch::kInt64);
  return {ids, types, mask};
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(BertModel, ParameterNamesAreExactlyHuggingFaces) {
  BertForQuestionAnswering model(tiny_config());
  std::set<std::string> names;
  for (const auto& p : model->named_parameters()) names.insert(p.key());
  const std::vector<std::string> expected_layer = {"attention.self.query.weight",
                                                   "attention.self.query.bias",
                                                   "attention.self.key.weight",
                                                   "attention.self.key.bias",
                                                   "attention.self.value.weight",
                                                   "attention.self.value.bias",
                                                   "attention.output.dense.weight",
                                                   "attention.output.dense.bias",
                                                   "attention.output.LayerNorm.weight",
                                                   "attention.output.LayerNorm.bias",
                                                   "intermediate.dense.weight",
                                                   "intermediate.dense.bias",
                                                   "output.dense.weight",
                                                   "output.dense.bias",
                                                   "output.LayerNorm.weight",
                                                   "output.LayerNorm.bias"};
  std::set<std::string> expected = {"bert.embeddings.word_embeddings.weight",
                                    "bert.embeddings.position_embeddings.weight",
                                    "bert.embeddings.token_type_embeddings.weight",
                                    "bert.embeddings.LayerNorm.weight",
                                    "bert.embeddings.LayerNorm.bias",
                                    "qa_outputs.weight",
                                    "qa_outputs.bias"};
  for (int l = 0; l < 2; ++l)
    for (const auto& n : expected_layer) expected.insert("bert.encoder.layer." + std::to_string(l) + "." + n);
  EXPECT_EQ(names, expected);
}

TEST(BertModel, SaveThenLoadGivesIdenticalOutputs) {
  TestDir tmp;
  torch::manual_seed(1);
  BertForQuestionAnswering model(tiny_config());
  model->eval();
  const Input in = fixed_input(64);
  const QaLogits before = model(in.ids, in.types, in.mask);
  save_bert_qa(model, tmp / "ckpt", {});
  ASSERT_TRUE(fs::exists(tmp / "ckpt" / "config.json"));
  const auto config = nlohmann::json::parse(read_file(tmp / "ckpt" / "config.json"));
  EXPECT_EQ(config["architectures"][0], "BertForQuestionAnswering");

  CheckpointLoadInfo info;
  BertForQuestionAnswering loaded = load_bert_qa(tmp / "ckpt", &info);
  EXPECT_FALSE(info.random_init);
  EXPECT_FALSE(info.qa_head_initialised);
  loaded->eval();
  const QaLogits after = loaded(in.ids, in.types, in.mask);
  EXPECT_TRUE(torch::equal(before.start, after.start));
  EXPECT_TRUE(torch::equal(before.end, after.end));
}

TEST(BertModel, LoadsBertModelNamesWithoutPrefixAndInitialisesQaHead) {
  TestDir tmp;
  torch::manual_seed(2);
  BertForQuestionAnswering source(tiny_config());
  // Rewrite the weights the way a plain BertModel checkpoint stores them.
  SafetensorsFile file;
  for (const auto& p : source->named_parameters()) {
    std::string name = p.key();
    if (name.rfind("qa_outputs.", 0) == 0) continue;
    name = name.substr(5);  // drop "bert."
    auto t = p.value().detach().contiguous();
    file.add({name, SafetensorsDType::F32, t.sizes().vec(),
              std::string(static_cast<const char*>(t.data_ptr()), t.numel() * 4)});
  }
  file.add({"embeddings.position_ids", SafetensorsDType::I64, {1, 32}, std::string(32 * 8, '\0')});
  file.add({"pooler.dense.weight", SafetensorsDType::F32, {32, 32}, std::string(32 * 32 * 4, '\0')});
  file.add({"pooler.dense.bias", SafetensorsDType::F32, {32}, std::string(32 * 4, '\0')});
  testing::write_config_only_checkpoint(tmp / "bertmodel", tiny_config());
  write_safetensors(tmp / "bertmodel" / "model.safetensors", file);

  CheckpointLoadInfo info;
  BertForQuestionAnswering loaded = load_bert_qa(tmp / "bertmodel", &info);
  EXPECT_TRUE(info.qa_head_initialised);
  EXPECT_EQ(info.ignored.size(), 3u);
  const auto params = loaded->named_parameters();
  for (const auto& p : source->named_parameters()) {
    if (p.key().rfind("qa_outputs.", 0) == 0) continue;
    EXPECT_TRUE(torch::equal(p.value(), params[p.key()])) << p.key();
  }
  EXPECT_TRUE(torch::equal(params["qa_outputs.bias"], torch::zeros({2})));
  EXPECT_GT(params["qa_outputs.weight"].abs().sum().item<float>(), 0.0f);
}

TEST(BertModel, ConfigOnlyDirectoryGivesRandomModel) {
  TestDir tmp;
  testing::write_config_only_checkpoint(tmp / "demo", tiny_config());
  CheckpointLoadInfo info;
  BertForQuestionAnswering model = load_bert_qa(tmp / "demo", &info);
  EXPECT_TRUE(info.random_init);
  EXPECT_EQ(model->config.hidden_size, 32);
}

TEST(BertModel, ShapeMismatchIsAClearError) {
  TestDir tmp;
  BertForQuestionAnswering model(tiny_config());
  save_bert_qa(model, tmp / "ckpt", {});
  BertConfig wider = tiny_config();
  wider.intermediate_size = 96;
  testing::write_config_only_checkpoint(tmp / "ckpt", wider);
  const std::string msg = message_of([&] { load_bert_qa(tmp / "ckpt"); });
  EXPECT_NE(msg.find("intermediate.dense.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("shape [64, 32]"), std::string::npos) << msg;
}

TEST(BertModel, TensorOfAMissingLayerIsAClearError) {
  TestDir tmp;
  BertForQuestionAnswering model(tiny_config());
  save_bert_qa(model, tmp / "ckpt", {});
  BertConfig fewer = tiny_config();
  fewer.num_hidden_layers = 1;
  testing::write_config_only_checkpoint(tmp / "ckpt", fewer);
  const std::string msg = message_of([&] { load_bert_qa(tmp / "ckpt"); });
  EXPECT_NE(msg.find("bert.encoder.layer.1."), std::string::npos) << msg;
  EXPECT_NE(msg.find("1 layers"), std::string::npos) << msg;
}

TEST(BertModel, BadConfigIsAClearErrorNamingTheFile) {
  TestDir tmp;
  fs::create_directories(tmp / "bad");
  write_file_atomic(tmp / "bad" / "config.json", R"({"hidden_size": 30, "num_attention_heads": 4})");
  std::string msg = message_of([&] { load_bert_qa(tmp / "bad"); });
  EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a multiple of num_attention_heads"), std::string::npos) << msg;
  write_file_atomic(tmp / "bad" / "config.json", R"({"hidden_size": "big"})");
  msg = message_of([&] { load_bert_qa(tmp / "bad"); });
  EXPECT_NE(msg.find("key 'hidden_size': expected an integer"), std::string::npos) << msg;
  write_file_atomic(tmp / "bad" / "config.json", R"({"hidden_size": )");
  msg = message_of([&] { load_bert_qa(tmp / "bad"); });
  EXPECT_NE(msg.find("not valid JSON"), std::string::npos) << msg;
  write_file_atomic(tmp / "bad" / "config.json", R"({"hidden_size": 1e99999})");
  msg = message_of([&] { load_bert_qa(tmp / "bad"); });
  EXPECT_NE(msg.find("not valid JSON"), std::string::npos) << msg;
}

TEST(BertModel, ConfigRoundTripKeepsUnknownKeys) {
  nlohmann::json j = tiny_config().to_json();
  j["architectures"] = {"BertModel"};
  j["transformers_version"] = "4.8.2";
  const BertConfig c = BertConfig::from_json(j, "config.json");
  const nlohmann::json back = c.to_json();
  EXPECT_EQ(back["transformers_version"], "4.8.2");
  EXPECT_EQ(back["architectures"][0], "BertForQuestionAnswering");
  EXPECT_EQ(back["hidden_size"], 32);
}

TEST(BertModel, PaddingDoesNotChangeRealTokenOutputs) {
  torch::manual_seed(3);
  BertForQuestionAnswering model(tiny_config());
  model->eval();
  torch::NoGradGuard no_grad;
  auto ids = torch::tensor({{1, 5, 9, 2, 7, 8, 2}}, torch::kInt64);
  auto types = torch::tensor({{0, 0, 0, 0, 1, 1, 1}}, torch::kInt64);
  auto mask = torch::ones({1, 7}, torch::kInt64);
  const QaLogits short_out = model(ids, types, mask);
  auto pad = [](const torch::Tensor& t, int64_t v) {
    return torch::cat({t, torch::full({1, 5}, v, torch::kInt64)}, 1);
  };
  const QaLogits long_out = model(pad(ids, 33), pad(types, 1), pad(mask, 0));
  EXPECT_TRUE(torch::allclose(short_out.start, long_out.start.slice(1, 0, 7), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(short_out.end, long_out.end.slice(1, 0, 7), 1e-5, 1e-5));
}

TEST(BertModel, DropoutIsActiveInTrainingModeOnly) {
  torch::manual_seed(4);
  BertForQuestionAnswering model(tiny_config());
  const Input in = fixed_input(64);
  model->train();
  const auto a = model(in.ids, in.types, in.mask).start;
  const auto b = model(in.ids, in.types, in.mask).start;
  EXPECT_FALSE(torch::equal(a, b));
  model->eval();
  EXPECT_TRUE(torch::equal(model(in.ids, in.types, in.mask).start, model(in.ids, in.types, in.mask).start));
}

// The real model, when a copy is around (scripts fetch it; CI may not have it).
TEST(BertModel, RealMiniLmLoadsAndGivesFiniteDeterministicOutputs) {
  const char* dir = std::getenv("FASTBERT_MINILM_DIR");
  if (!dir || !fs::exists(fs::path(dir) / "model.safetensors"))
    GTEST_SKIP() << "set FASTBERT_MINILM_DIR to an all-MiniLM-L6-v2 directory (config.json, model.safetensors) "
                    "to run this check";
  CheckpointLoadInfo info;
  BertForQuestionAnswering model = load_bert_qa(dir, &info);
  EXPECT_TRUE(info.qa_head_initialised);
  EXPECT_EQ(model->config.num_hidden_layers, 6);
  EXPECT_EQ(model->config.hidden_size, 384);
  model->eval();
  torch::NoGradGuard no_grad;
  const Input in = fixed_input(30522);
  const auto h1 = model->bert(in.ids, in.types, in.mask);
  const auto h2 = model->bert(in.ids, in.types, in.mask);
  EXPECT_TRUE(torch::isfinite(h1).all().item<bool>());
  EXPECT_TRUE(torch::equal(h1, h2));
  // A trained encoder's LayerNorm output is not degenerate.
  EXPECT_GT(h1.std().item<float>(), 0.1f);
}

}  // namespace
}  // namespace fastbert
