// nft scripts through libnftables: at start-up and shutdown only, never on the packet path (the
// per-pinhole element batches are backend/nft_backend.hpp's, through libnftnl).
#pragma once

#include <string>

#include "ftpalg/core/result.hpp"

namespace ftpalg::firewall {

// Runs an nft script (the language of `nft -f`). `output` receives the command output (e.g. for
// `list ruleset`). The error names the script's first line and nft's message.
Status<> runNftScript(const std::string& script, std::string* output = nullptr);

// True when an nft error means "no such table/chain/object" (ENOENT).
bool isNoSuchObject(const std::string& error);

// True when this kernel accepts the nft `queue` expression: probed by adding a queue rule to a
// regular chain of a temporary table (`inet ftpalg_probe`), which is then deleted. No packet
// ever reaches the probe.
Result<bool> nftKernelHasQueue();

// Whether this kernel can anchor control connections for the conntrack-owned mode
// (anchor_rules.hpp): creates a `ct helper` object of type "sane" in a temporary table and deletes
// it in the same transaction. The error says why not (printed with the fallback to the
// engine-owned mode).
Status<> probeAnchorHelper();

}  // namespace ftpalg::firewall
