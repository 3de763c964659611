// nft scripts through libnftables: at start-up and shutdown only, never on the packet path (the
// per-pinhole element batches are backend/nft_backend.hpp's, through libnftnl).
#pragma once

#include <cstdint>
#include <string>

#include "ftpalg/core/result.hpp"
#include "ruleset_json.hpp"

namespace ftpalg::firewall {

// How a script is run: Apply commits it; Check (`nft --check`, libnftables' dry-run) sends it to
// the kernel, which validates every command (an unknown expression or helper type fails as it
// would when applied) and then aborts the transaction: nothing changes, and no ruleset
// notification is sent. Json (`nft -j -a`): listings come back as JSON (ruleset_json.hpp reads
// them); Handles (`nft -a`): text listings with each rule's handle.
enum class NftRun : std::uint8_t { Apply, Check, Json, Handles };

// Runs an nft script (the language of `nft -f`). `output` receives the command output (e.g. for
// `list ruleset`). The error names the script's first line and nft's message.
Status<> runNftScript(const std::string& script, std::string* output = nullptr, NftRun how = NftRun::Apply);

// The kernel's ruleset now: `nft -j list ruleset` read into tables, chains and rules, and
// `nft -a list ruleset` for each rule's text (for messages). Changes nothing.
struct KernelRuleset {
  NftRuleset ruleset;
  RuleTexts texts;
};
Result<KernelRuleset> readKernelRuleset();

// True when an nft error means "no such table/chain/object" (ENOENT).
bool isNoSuchObject(const std::string& error);

// True when this kernel accepts the nft `queue` expression: a queue rule in a regular chain of a
// temporary table (`inet ftpalg_probe`), run in check mode (NftRun::Check): the kernel validates
// it and changes nothing.
Result<bool> nftKernelHasQueue();

// Whether this kernel can anchor control connections for the conntrack-owned mode
// (anchor_rules.hpp): a `ct helper` object of type "sane" in a temporary table, in check mode.
// The error says why not (printed with the fallback to the engine-owned mode).
Status<> probeAnchorHelper();

}  // namespace ftpalg::firewall
