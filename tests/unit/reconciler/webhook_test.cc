// VerifyWebhook: GitHub's documented test vector, the other providers' headers, and the ways a
// forged or malformed request must fail.

#include "reconciler/git/webhook.h"

#include <doctest/doctest.h>

#include <cctype>
#include <string>

namespace ww {
namespace {

// From GitHub's "Validating webhook deliveries" documentation.
constexpr std::string_view kGithubSecret = "It's a Secret to Everybody";
constexpr std::string_view kGithubBody = "Hello, World!";
constexpr std::string_view kGithubSignature = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

constexpr std::string_view kSecret = "webhook-secret-1";
constexpr std::string_view kBody = R"({"ref":"refs/heads/main","after":"0123"})";

TEST_CASE("WebhookSignatureHex reproduces GitHub's documented test vector") {
  CHECK(WebhookSignatureHex(kGithubSecret, kGithubBody) == kGithubSignature);
}

TEST_CASE("VerifyWebhook accepts GitHub's documented signature") {
  const WebhookHeaders headers = {{"X-Hub-Signature-256", "sha256=" + std::string(kGithubSignature)},
                                  {"X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
                                  {"X-GitHub-Event", "push"}};
  const WebhookVerdict verdict = VerifyWebhook(headers, kGithubBody, kGithubSecret);
  CHECK(verdict.decision == WebhookDecision::kAccepted);
  CHECK(verdict.reason == "");
  CHECK(verdict.provider == WebhookProvider::kGithub);
  CHECK(WebhookProviderName(verdict.provider) == "github");
  CHECK(verdict.delivery_id == "72d3162e-cc78-11e3-81ab-4c9367dc0958");
}

TEST_CASE("VerifyWebhook matches header names case-insensitively and hex in either case") {
  std::string upper(kGithubSignature);
  for (char& character : upper) character = static_cast<char>(std::toupper(static_cast<unsigned char>(character)));
  const WebhookHeaders headers = {{"x-hub-signature-256", "sha256=" + upper}, {"x-github-delivery", "d-1"}};
  const WebhookVerdict verdict = VerifyWebhook(headers, kGithubBody, kGithubSecret);
  CHECK(verdict.decision == WebhookDecision::kAccepted);
  CHECK(verdict.delivery_id == "d-1");
}

TEST_CASE("VerifyWebhook rejects a wrong signature, a changed body and a wrong secret") {
  const WebhookHeaders headers = {{"X-Hub-Signature-256", "sha256=" + std::string(kGithubSignature)}};
  const WebhookVerdict changed_body = VerifyWebhook(headers, "Hello, World?", kGithubSecret);
  CHECK(changed_body.decision == WebhookDecision::kRejected);
  CHECK(changed_body.provider == WebhookProvider::kGithub);
  CHECK(changed_body.reason == "X-Hub-Signature-256 does not match the body signed with the webhook secret");

  CHECK(VerifyWebhook(headers, kGithubBody, "another secret").decision == WebhookDecision::kRejected);

  std::string flipped(kGithubSignature);
  flipped.back() = '6';
  const WebhookVerdict wrong = VerifyWebhook({{"X-Hub-Signature-256", "sha256=" + flipped}}, kGithubBody, kGithubSecret);
  CHECK(wrong.decision == WebhookDecision::kRejected);
  CHECK(wrong.reason == "X-Hub-Signature-256 does not match the body signed with the webhook secret");
}

TEST_CASE("VerifyWebhook rejects malformed and missing signature headers") {
  const WebhookVerdict missing = VerifyWebhook({{"X-GitHub-Event", "push"}, {"X-GitHub-Delivery", "d-2"}}, kBody, kSecret);
  CHECK(missing.decision == WebhookDecision::kRejected);
  CHECK(missing.reason == "no signature header (X-Hub-Signature-256, X-Gitea-Signature, X-Gitlab-Token or X-Signature)");

  const WebhookVerdict no_prefix = VerifyWebhook({{"X-Hub-Signature-256", std::string(kGithubSignature)}}, kGithubBody, kGithubSecret);
  CHECK(no_prefix.reason == "X-Hub-Signature-256 must start with \"sha256=\"");

  const WebhookVerdict short_hex = VerifyWebhook({{"X-Hub-Signature-256", "sha256=757107ea"}}, kGithubBody, kGithubSecret);
  CHECK(short_hex.reason == "X-Hub-Signature-256 is not 64 hex digits");

  std::string not_hex(kGithubSignature);
  not_hex[0] = 'g';
  const WebhookVerdict bad_digit = VerifyWebhook({{"X-Hub-Signature-256", "sha256=" + not_hex}}, kGithubBody, kGithubSecret);
  CHECK(bad_digit.reason == "X-Hub-Signature-256 is not 64 hex digits");

  const std::string good = "sha256=" + std::string(kGithubSignature);
  const WebhookVerdict twice = VerifyWebhook({{"X-Hub-Signature-256", good}, {"x-hub-signature-256", good}}, kGithubBody, kGithubSecret);
  CHECK(twice.decision == WebhookDecision::kRejected);
  CHECK(twice.reason == "X-Hub-Signature-256 appears more than once");
}

TEST_CASE("VerifyWebhook rejects everything when no secret is configured") {
  const WebhookVerdict verdict = VerifyWebhook({{"X-Hub-Signature-256", "sha256=" + WebhookSignatureHex("", kBody)}}, kBody, "");
  CHECK(verdict.decision == WebhookDecision::kRejected);
  CHECK(verdict.reason == "no webhook secret is configured");
  const WebhookVerdict gitlab = VerifyWebhook({{"X-Gitlab-Token", ""}}, kBody, "");
  CHECK(gitlab.decision == WebhookDecision::kRejected);
}

TEST_CASE("VerifyWebhook checks Gitea's bare hex signature, preferring it to X-Hub-Signature-256") {
  const std::string signature = WebhookSignatureHex(kSecret, kBody);
  const WebhookHeaders headers = {{"X-Gitea-Signature", signature},
                                  {"X-Hub-Signature-256", "sha256=" + signature},
                                  {"X-Gitea-Delivery", "gitea-17"},
                                  {"X-GitHub-Delivery", "gitea-17"}};
  const WebhookVerdict verdict = VerifyWebhook(headers, kBody, kSecret);
  CHECK(verdict.decision == WebhookDecision::kAccepted);
  CHECK(verdict.provider == WebhookProvider::kGitea);
  CHECK(verdict.delivery_id == "gitea-17");

  const WebhookVerdict wrong = VerifyWebhook({{"X-Gitea-Signature", WebhookSignatureHex("other", kBody)}}, kBody, kSecret);
  CHECK(wrong.decision == WebhookDecision::kRejected);
  CHECK(wrong.provider == WebhookProvider::kGitea);
  CHECK(wrong.reason == "X-Gitea-Signature does not match the body signed with the webhook secret");
}

TEST_CASE("VerifyWebhook compares GitLab's token with the secret") {
  const WebhookVerdict accepted =
      VerifyWebhook({{"X-Gitlab-Token", std::string(kSecret)}, {"X-Gitlab-Event-UUID", "uuid-3"}}, kBody, kSecret);
  CHECK(accepted.decision == WebhookDecision::kAccepted);
  CHECK(accepted.provider == WebhookProvider::kGitlab);
  CHECK(accepted.delivery_id == "uuid-3");

  const WebhookVerdict prefix = VerifyWebhook({{"X-Gitlab-Token", "webhook-secret"}}, kBody, kSecret);
  CHECK(prefix.decision == WebhookDecision::kRejected);
  CHECK(prefix.reason == "X-Gitlab-Token does not match the webhook secret");
  CHECK(VerifyWebhook({{"X-Gitlab-Token", "webhook-secret-12"}}, kBody, kSecret).decision == WebhookDecision::kRejected);
}

TEST_CASE("VerifyWebhook checks the generic X-Signature header") {
  const WebhookHeaders headers = {{"X-Signature", "sha256=" + WebhookSignatureHex(kSecret, kBody)}, {"X-Delivery-Id", "ci-9"}};
  const WebhookVerdict verdict = VerifyWebhook(headers, kBody, kSecret);
  CHECK(verdict.decision == WebhookDecision::kAccepted);
  CHECK(verdict.provider == WebhookProvider::kGeneric);
  CHECK(verdict.delivery_id == "ci-9");

  const WebhookVerdict unsigned_body = VerifyWebhook({{"X-Signature", "sha256=" + WebhookSignatureHex(kSecret, "")}}, kBody, kSecret);
  CHECK(unsigned_body.decision == WebhookDecision::kRejected);
  CHECK(unsigned_body.reason == "X-Signature does not match the body signed with the webhook secret");
}

}  // namespace
}  // namespace ww
