// libnftables scripts: see nft_script.hpp.
#include "nft_script.hpp"

#include <nftables/libnftables.h>

#include <memory>
#include <string_view>

#include "anchor_rules.hpp"

namespace ftpalg::firewall {

namespace {

struct NftCtxDeleter {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};
using NftCtx = std::unique_ptr<nft_ctx, NftCtxDeleter>;

std::string firstLine(std::string_view text) {
  const auto nl = text.find('\n');
  std::string line(text.substr(0, nl));
  if (line.size() > 120) line = line.substr(0, 117) + "...";
  return line;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

Status<> runNftScript(const std::string& script, std::string* output, NftRun how) {
  NftCtx ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return Err(std::string("libnftables: cannot create a context"));
  if (how == NftRun::Check) nft_ctx_set_dry_run(ctx.get(), true);
  if (how == NftRun::Json) nft_ctx_output_set_flags(ctx.get(), NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE);
  if (how == NftRun::Handles) nft_ctx_output_set_flags(ctx.get(), NFT_CTX_OUTPUT_HANDLE);
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  const int rc = nft_run_cmd_from_buffer(ctx.get(), script.c_str());
  if (output) {
    const char* text = nft_ctx_get_output_buffer(ctx.get());
    *output = text ? text : "";
  }
  if (rc != 0) {
    const char* error = nft_ctx_get_error_buffer(ctx.get());
    return Err("nft `" + firstLine(script) + "` failed: " + trimmed(error ? error : "unknown error"));
  }
  return okStatus();
}

Result<KernelRuleset> readKernelRuleset() {
  std::string jsonText;
  // nft -j list ruleset
  if (auto listed = runNftScript("list ruleset", &jsonText, NftRun::Json); !listed)
    return Err(listed.error());
  auto read = readRulesetJson(jsonText);
  if (!read.ruleset) return Err(read.error);
  // nft -a list ruleset (for the rules' text; without it messages name rules by handle)
  KernelRuleset kernel{std::move(*read.ruleset), {}};
  std::string text;
  if (runNftScript("list ruleset", &text, NftRun::Handles)) kernel.texts = ruleTextsFromListing(text);
  return kernel;
}

bool isNoSuchObject(const std::string& error) {
  return error.find("No such file or directory") != std::string::npos;
}

Result<bool> nftKernelHasQueue() {
  // nft --check: add table inet ftpalg_probe; add chain inet ftpalg_probe p;
  // add rule inet ftpalg_probe p queue num 0 bypass
  // The kernel refuses an unknown expression type with ENOENT ("No such file or directory") or
  // EOPNOTSUPP; in check mode it validates and aborts either way.
  const auto probe = runNftScript(
      "add table inet ftpalg_probe\nadd chain inet ftpalg_probe p\n"
      "add rule inet ftpalg_probe p queue num 0 bypass\n",
      nullptr, NftRun::Check);
  if (probe) return true;
  if (isNoSuchObject(probe.error()) || probe.error().find("Operation not supported") != std::string::npos) {
    return false;
  }
  return Err("probing for the nft queue expression: " + probe.error());
}

Status<> probeAnchorHelper() {
  // nft --check: a temporary table with a `ct helper` object of type "sane". A kernel without
  // nf_conntrack_sane refuses the object (ENOENT); check mode changes nothing either way.
  if (auto probe = runNftScript(nftAnchorProbeScript(), nullptr, NftRun::Check); !probe) {
    return Err("the kernel refused an nft ct helper object of type \"" + std::string(kAnchorHelperType) +
               "\" (nf_conntrack_sane, CONFIG_NF_CONNTRACK_SANE): " + probe.error());
  }
  return okStatus();
}

}  // namespace ftpalg::firewall
