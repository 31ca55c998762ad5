#pragma once
// Verifying a git hosting webhook (POST /hooks/git) before it may trigger a fetch: GitHub's
// X-Hub-Signature-256, Gitea's X-Gitea-Signature, GitLab's X-Gitlab-Token, or a generic
// X-Signature, all against one shared secret with constant-time comparison. Pure functions: the
// status listener passes the request's headers and body; safe from any thread.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ww {

enum class WebhookProvider { kGithub, kGitea, kGitlab, kGeneric };
enum class WebhookDecision { kAccepted, kRejected };

// Names as in logs and events: "github", "gitea", "gitlab", "generic".
std::string_view WebhookProviderName(WebhookProvider provider);

struct WebhookVerdict {
  WebhookDecision decision = WebhookDecision::kRejected;
  std::string reason;  // why it was rejected; empty when accepted
  WebhookProvider provider = WebhookProvider::kGeneric;
  // The provider's delivery id (X-GitHub-Delivery, X-Gitea-Delivery, X-Gitlab-Event-UUID,
  // X-Delivery-Id); empty when the request carries none.
  std::string delivery_id;
};

// {name, value} as received; names compare case-insensitively.
using WebhookHeaders = std::vector<std::pair<std::string, std::string>>;

// Accepts when exactly one signature scheme is present and matches `secret`:
//   X-Gitea-Signature: <hex HMAC-SHA256(secret, body)>
//   X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>
//   X-Gitlab-Token: <secret>
//   X-Signature: sha256=<hex HMAC-SHA256(secret, body)>
// Gitea also sends X-Hub-Signature-256; its own header decides then. An empty secret rejects
// everything. A repeated signature header is rejected.
WebhookVerdict VerifyWebhook(const WebhookHeaders& headers, std::string_view body, std::string_view secret);

// Lowercase hex HMAC-SHA256(secret, body): what a sender puts in the signature header.
std::string WebhookSignatureHex(std::string_view secret, std::string_view body);

}  // namespace ww
