#include "ftpalg/engine/reasons.hpp"

namespace ftpalg {

std::string_view reasonName(Reason reason) {
  switch (reason) {
#define FTPALG_X(name, text) \
  case Reason::name: return text;
    FTPALG_REASONS(FTPALG_X)
#undef FTPALG_X
  }
  return "unknown";
}

Reason reasonFromSyntax(AddressSyntaxError error) {
  switch (error) {
#define FTPALG_X(name, text) \
  case AddressSyntaxError::name: return Reason::name;
    FTPALG_ADDRESS_SYNTAX_ERRORS(FTPALG_X)
#undef FTPALG_X
  }
  return Reason::BadSyntax;
}

Reason reasonFromRefusal(const LineMeaning& meaning) {
  switch (meaning.refusal) {
    case ChannelRefusal::Syntax:
      return meaning.syntaxError ? reasonFromSyntax(*meaning.syntaxError) : Reason::BadSyntax;
#define FTPALG_X(name, text) \
  case ChannelRefusal::name: return Reason::name;
      FTPALG_CHANNEL_OWN_REFUSALS(FTPALG_X)
#undef FTPALG_X
  }
  return Reason::BadSyntax;
}

std::string_view statName(Stat stat) {
  switch (stat) {
#define FTPALG_X(name, text) \
  case Stat::name: return text;
    FTPALG_STATS(FTPALG_X)
#undef FTPALG_X
    case Stat::Count_: break;
  }
  return "unknown";
}

}  // namespace ftpalg
