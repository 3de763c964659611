#include "ftpalg/engine/reasons.hpp"

namespace ftpalg {

std::string_view reasonName(Reason reason) {
  switch (reason) {
#define FTPALG_X(name, text) \
  case Reason::name:         \
    return text;
    FTPALG_REASONS(FTPALG_X)
#undef FTPALG_X
  }
  return "unknown";
}

std::string_view statName(Stat stat) {
  switch (stat) {
#define FTPALG_X(name, text) \
  case Stat::name:           \
    return text;
    FTPALG_STATS(FTPALG_X)
#undef FTPALG_X
    case Stat::Count_:
      break;
  }
  return "unknown";
}

}  // namespace ftpalg
