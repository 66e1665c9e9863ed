#include "fbm_writer.h"

#include <nlohmann/json.hpp>

namespace fastbert {

namespace {
hdf5::FileOptions aligned_options() {
  hdf5::FileOptions o;
  o.alignment = fbm::kAlignment;
  o.alignment_threshold = fbm::kAlignment;  // every array of a cache line or more
  return o;
}
}  // namespace

FbmWriter::FbmWriter(const std::filesystem::path& path) : file_(hdf5::File::create(path, aligned_options())) {}

void FbmWriter::finish(std::string manifest_json) {
  nlohmann::ordered_json m = nlohmann::ordered_json::parse(manifest_json);
  m["datasets"] = names_;
  const std::string text = m.dump();
  const uint32_t crc = fbm::checksum_update(crc_, text.data(), text.size());
  file_.set_attribute(fbm::kAttrFormat, std::string(fbm::kFormatName));
  file_.set_attribute(fbm::kAttrVersionMajor, fbm::kVersionMajor);
  file_.set_attribute(fbm::kAttrVersionMinor, fbm::kVersionMinor);
  file_.set_attribute(fbm::kAttrManifest, text);
  file_.set_attribute(fbm::kAttrChecksum, static_cast<int64_t>(crc));
  file_.close();
}

}  // namespace fastbert
