#include "fastbert/prune/prune_settings.h"

namespace fastbert {

std::string to_string(PruneCriterion c) { return c == PruneCriterion::Magnitude ? "magnitude" : "snip_momentum"; }

std::string to_string(ScheduleKind k) {
  switch (k) {
    case ScheduleKind::Cubic: return "cubic";
    case ScheduleKind::Exponential: return "exponential";
    case ScheduleKind::Linear: return "linear";
  }
  return "?";
}

std::string to_string(PruneScope s) { return s == PruneScope::Global ? "global" : "per_layer"; }

}  // namespace fastbert
