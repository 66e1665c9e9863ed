// `fastbert export`: a training checkpoint directory -> one packed .fbm file.
#include <iostream>

#include "commands.h"
#include "fastbert/common/output_paths.h"
#include "fastbert/export/fbm_export.h"
#include "option_checks.h"

namespace fastbert::cli {

namespace {
struct ExportArgs {
  std::string checkpoint;
  std::string out;
  std::string precision = "auto";
  double sparse_threshold = ExportOptions().sparse_threshold;
  std::string calibration_data;
  int64_t calibration_windows = 64;
};
}  // namespace

void register_export(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand("export", "pack a training checkpoint into a .fbm file for the runtime");
  cmd->add_option("--checkpoint", args->checkpoint, "checkpoint directory (config.json, model.safetensors, ...)")
      ->required();
  cmd->add_option("--out", args->out, "the .fbm file to write")->required();
  cmd->add_option("--precision", args->precision,
                  "fp32, int8 (needs quantization.json or --calibration-data) or auto (int8 when either is given)")
      ->capture_default_str();
  cmd->add_option("--sparse-threshold", args->sparse_threshold,
                  "int8 linears with at least this fraction of zero 4x1 blocks are packed sparse")
      ->capture_default_str()
      ->check(number_in(0, 1));
  cmd->add_option("--calibration-data", args->calibration_data,
                  "int8 without quantization.json: calibrate activation ranges on this features .h5 or SQuAD .json")
      ->check(CLI::ExistingFile);
  cmd->add_option("--calibration-windows", args->calibration_windows, "windows used for calibration")
      ->capture_default_str()
      ->check(integer_in(1, 1 << 20));
  cmd->callback([args] {
    refuse_outputs_over_inputs({{"--checkpoint", args->checkpoint}, {"--calibration-data", args->calibration_data}},
                               {{"--out", args->out}});
    ExportOptions options;
    options.precision = parse_export_precision(args->precision);
    options.sparse_threshold = args->sparse_threshold;
    options.calibration_data = args->calibration_data;
    options.calibration_windows = args->calibration_windows;
    const ExportSummary summary = export_fbm(args->checkpoint, args->out, options);
    std::cout << format_export_summary(summary);
  });
}

}  // namespace fastbert::cli
