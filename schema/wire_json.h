#pragma once
// The JSON wire format of AgentConfig, ObservedState and Plan, carried between reconciler,
// agent and wwctl and stored on disk. Every message is an object with "formatVersion": 1.
// Parsing refuses unknown versions, missing or mistyped fields, nesting deeper than 64
// and invalid UTF-8, and names the JSON path of the bad value.
// nlohmann/json stays inside wire_json.cc: this header is cheap to include.

#include <string>
#include <string_view>

#include "schema/agent_config.h"
#include "schema/observed_state.h"
#include "schema/plan.h"
#include "schema/result.h"

namespace ww {

// kPretty: 2-space indent and a trailing newline (files, golden tests); kCompact: one line
// without a newline (HTTP bodies). Field order is fixed, so equal values give equal text.
enum class JsonStyle { kCompact, kPretty };

std::string AgentConfigToJson(const AgentConfig& config, JsonStyle style = JsonStyle::kPretty);
Result<AgentConfig> AgentConfigFromJson(std::string_view text);

std::string ObservedStateToJson(const ObservedState& state, JsonStyle style = JsonStyle::kPretty);
Result<ObservedState> ObservedStateFromJson(std::string_view text);

std::string PlanToJson(const Plan& plan, JsonStyle style = JsonStyle::kPretty);
Result<Plan> PlanFromJson(std::string_view text);

}  // namespace ww
