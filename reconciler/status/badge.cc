#include "reconciler/status/badge.h"


namespace ww {
namespace {

constexpr std::string_view kBadgeLabel = "wirewarp";
// Verdana 11px averages about 7 px a character; 10 px of padding on each side in total.
constexpr int kCharacterWidth = 7;
constexpr int kPadding = 10;

std::string_view BadgeColor(BadgeState state) {
  switch (state) {
    case BadgeState::kConverged: return "#2e9e4f";
    case BadgeState::kPending: return "#d08a11";
    case BadgeState::kDegraded: return "#d0342c";
    case BadgeState::kNoRevision: return "#8a8a8a";
    case BadgeState::kWaitingForEnrollment: return "#d08a11";
  }
  return "#8a8a8a";
}

int TextWidth(std::string_view text) { return static_cast<int>(text.size()) * kCharacterWidth + kPadding; }

}  // namespace

std::string EscapeXml(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\'': escaped += "&apos;"; break;
      default: escaped += c;
    }
  }
  return escaped;
}

BadgeSummary SummarizeSnapshot(const FleetSnapshot& snapshot) {
  BadgeSummary summary;
  if (!snapshot.revision) return summary;
  if (snapshot.converged) return BadgeSummary{BadgeState::kConverged, 0};
  bool degraded = false;
  bool waiting = false;  // an agent the revision names has not enrolled yet
  for (const FleetSnapshot::Agent& agent : snapshot.agents) {
    if (agent.phase == "degraded" || agent.phase == "disconnected" || agent.phase == "render-failed" ||
        !agent.connected) {
      (agent.enrolled ? degraded : waiting) = true;
    } else if (agent.phase != "converged") {
      ++summary.pending_agents;
    }
  }
  for (const FleetSnapshot::Forward& forward : snapshot.forwards) degraded = degraded || forward.state == "failed";
  if (degraded || waiting) {
    return BadgeSummary{degraded ? BadgeState::kDegraded : BadgeState::kWaitingForEnrollment, 0};
  }
  summary.state = BadgeState::kPending;
  return summary;
}

std::string BadgeMessage(const BadgeSummary& summary) {
  switch (summary.state) {
    case BadgeState::kConverged: return "converged";
    case BadgeState::kPending: return std::to_string(summary.pending_agents) + " pending";
    case BadgeState::kDegraded: return "degraded";
    case BadgeState::kNoRevision: return "no revision";
    case BadgeState::kWaitingForEnrollment: return "waiting for enrollment";
  }
  return "unknown";
}

std::string BadgeSvg(const BadgeSummary& summary) {
  std::string message = EscapeXml(BadgeMessage(summary));
  std::string label = EscapeXml(kBadgeLabel);
  int label_width = TextWidth(kBadgeLabel);
  int message_width = TextWidth(BadgeMessage(summary));
  std::string width = std::to_string(label_width + message_width);
  // Text x positions are centres, in tenths of a pixel (scale(.1)) for crisp rendering.
  std::string label_x = std::to_string(label_width * 5);
  std::string message_x = std::to_string(label_width * 10 + message_width * 5);
  std::string title = label + ": " + message;
  std::string svg;
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + width + "\" height=\"20\" role=\"img\" aria-label=\"" +
         title + "\">";
  svg += "<title>" + title + "</title>";
  svg += "<linearGradient id=\"s\" x2=\"0\" y2=\"100%\"><stop offset=\"0\" stop-color=\"#bbb\" stop-opacity=\".1\"/>"
         "<stop offset=\"1\" stop-opacity=\".1\"/></linearGradient>";
  svg += "<clipPath id=\"r\"><rect width=\"" + width + "\" height=\"20\" rx=\"3\" fill=\"#fff\"/></clipPath>";
  svg += "<g clip-path=\"url(#r)\"><rect width=\"" + std::to_string(label_width) + "\" height=\"20\" fill=\"#555\"/>";
  svg += "<rect x=\"" + std::to_string(label_width) + "\" width=\"" + std::to_string(message_width) +
         "\" height=\"20\" fill=\"" + std::string(BadgeColor(summary.state)) + "\"/>";
  svg += "<rect width=\"" + width + "\" height=\"20\" fill=\"url(#s)\"/></g>";
  svg += "<g fill=\"#fff\" text-anchor=\"middle\" font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" "
         "font-size=\"110\" transform=\"scale(.1)\">";
  for (const auto& [x, text] : {std::pair{label_x, label}, std::pair{message_x, message}}) {
    svg += "<text x=\"" + x + "\" y=\"150\" fill=\"#010101\" fill-opacity=\".3\">" + text + "</text>";
    svg += "<text x=\"" + x + "\" y=\"140\">" + text + "</text>";
  }
  svg += "</g></svg>\n";
  return svg;
}

}  // namespace ww
