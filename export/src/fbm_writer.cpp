#include "fbm_writer.h"

#include <nlohmann/json.hpp>

namespace fastbert {

namespace {
hdf5::FileOptions aligned_options() {
  hdf5::FileOptions o;
  o.alignment = fbm::kAlignment;
  o.alignment_threshold = fbm::kAlignment;  // every array of a cache line or more
  o.user_block_bytes = fbm::kHeaderBytes;
  return o;
}
}  // namespace

FbmWriter::FbmWriter(const std::filesystem::path& path) : path_(path), file_(hdf5::File::create(path, aligned_options())) {}

void FbmWriter::finish(std::string manifest_json) {
  nlohmann::ordered_json m = nlohmann::ordered_json::parse(manifest_json);
  m["datasets"] = names_;
  file_.set_attribute(fbm::kAttrFormat, std::string(fbm::kFormatName));
  file_.set_attribute(fbm::kAttrManifest, m.dump());
  file_.close();
  fbm::stamp_file(path_);
}

}  // namespace fastbert
