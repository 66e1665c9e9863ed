// A random BERT QA checkpoint of any shape with 4x1 block sparsity and
// calibrated quantization.json, for benchmarking the runtime without a
// trained model: make_random_bert OUT_DIR [hidden layers heads intermediate sparsity]
#include <cstdlib>
#include <iostream>

#include "tiny_bert.h"

int main(int argc, char** argv) {
  if (argc != 2 && argc != 7) {
    std::cerr << "usage: make_random_bert OUT_DIR [hidden layers heads intermediate sparsity]\n";
    return 2;
  }
  fastbert::testing::TinyBertSpec spec;
  spec.vocab = 30522;
  spec.max_position = 512;
  spec.hidden = 768;
  spec.layers = 12;
  spec.heads = 12;
  spec.intermediate = 3072;
  spec.block_sparsity = 0.8;
  if (argc == 7) {
    spec.hidden = std::atoll(argv[2]);
    spec.layers = std::atoll(argv[3]);
    spec.heads = std::atoll(argv[4]);
    spec.intermediate = std::atoll(argv[5]);
    spec.block_sparsity = std::atof(argv[6]);
  }
  fastbert::testing::TinyBert model(spec);
  // Activation ranges from one short window are enough for timing.
  model.write_calibrated_checkpoint(argv[1], 1, 16, 1);
  return 0;
}
