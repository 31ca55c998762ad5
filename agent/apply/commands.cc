#include "agent/apply/commands.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <variant>

namespace ww::agent {
namespace {

// In the order of the StepAction alternatives.
constexpr std::array<std::string_view, std::variant_size_v<StepAction>> kStepNames = {
    "CreateInterface", "ConfigureInterface", "SetInterfaceMtu", "AddInterfaceAddress", "RemoveInterfaceAddress",
    "SetInterfaceUp",  "UpsertPeer",         "RemovePeer",      "AddRoute",            "DeleteRoute",
    "AddRule",         "DeleteRule",         "WriteChain",      "EditChain",           "DeleteChain",
    "AddJump",         "DeleteJump",         "SetSysctl",       "DeleteInterface"};

constexpr std::array<std::string_view, 5> kBuiltinChains = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"};
constexpr size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1
constexpr size_t kMaxChainName = 28;      // XT_EXTENSION_MAXNAMELEN - 1

// Quotes plan text for a message, with control bytes shown as \xNN so a hostile rule cannot
// forge log lines.
std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Hex(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%x", value);
  return text;
}

bool HasControlCharacter(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
  });
}

bool AllOf(std::string_view text, std::string_view extra) {
  return std::all_of(text.begin(), text.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           extra.find(c) != std::string_view::npos;
  });
}

bool IsFirewallStep(const StepAction& action) {
  return std::holds_alternative<WriteChain>(action) || std::holds_alternative<EditChain>(action) ||
         std::holds_alternative<DeleteChain>(action) || std::holds_alternative<AddJump>(action) ||
         std::holds_alternative<DeleteJump>(action);
}

std::optional<std::string> PeerInterface(const StepAction& action) {
  if (const auto* upsert = std::get_if<UpsertPeer>(&action)) return upsert->interface;
  if (const auto* remove = std::get_if<RemovePeer>(&action)) return remove->interface;
  return std::nullopt;
}

FirewallTable TableOf(const StepAction& action) {
  if (const auto* write = std::get_if<WriteChain>(&action)) return write->chain.table;
  if (const auto* edit = std::get_if<EditChain>(&action)) return edit->table;
  if (const auto* remove = std::get_if<DeleteChain>(&action)) return remove->table;
  if (const auto* add = std::get_if<AddJump>(&action)) return add->jump.table;
  return std::get<DeleteJump>(action).jump.table;
}

// Everything a step puts into argv or a restore script is checked here first: a newline in
// a rule would inject lines into the script, a name starting with '-' would become an option.
class StepChecker {
 public:
  StepChecker(size_t index, const Step& step, const CommandContext& context)
      : index_(index), step_(step), context_(context) {}

  Status Check() { return std::visit([this](const auto& action) { return CheckAction(action); }, step_.action); }

 private:
  Status Invalid(const std::string& what) const {
    return Status::InvalidArgument("plan step " + std::to_string(index_ + 1) + " (" +
                                   std::string(kStepNames[step_.action.index()]) + "): " + what);
  }

  Status Interface(const std::string& name) const {
    if (name.empty() || name.size() > kMaxInterfaceName || name[0] == '-' || name == "." || name == ".." ||
        !AllOf(name, "_.-")) {
      return Invalid("interface name " + Quote(name) + " is not 1-15 letters, digits, '_', '.' or '-'");
    }
    return Status::Ok();
  }

  Status Chain(const std::string& name) const {
    if (!name.starts_with(kChainPrefix) || name.size() > kMaxChainName || !AllOf(name, "_-")) {
      return Invalid("chain " + Quote(name) + " is not an owned chain (" + std::string(kChainPrefix) +
                     "..., at most 28 letters, digits, '_' or '-')");
    }
    return Status::Ok();
  }

  Status Builtin(const std::string& name) const {
    if (std::find(kBuiltinChains.begin(), kBuiltinChains.end(), name) == kBuiltinChains.end()) {
      return Invalid("chain " + Quote(name) + " is not a built-in chain");
    }
    return Status::Ok();
  }

  Status Text(std::string_view what, const std::string& text) const {
    if (HasControlCharacter(text)) return Invalid(std::string(what) + " " + Quote(text) + " has a control character");
    return Status::Ok();
  }

  Status Rules(const std::vector<std::string>& rules) const {
    for (const std::string& rule : rules) WW_RETURN_IF_ERROR(Text("rule", rule));
    return Status::Ok();
  }

  Status Jump(const FirewallJump& jump) const {
    WW_RETURN_IF_ERROR(Builtin(jump.chain));
    WW_RETURN_IF_ERROR(Text("rule", jump.rule));
    // The target follows the last -j (or -g, a goto the host may have): it must be owned.
    size_t jump_at = jump.rule.rfind("-j ");
    size_t goto_at = jump.rule.rfind("-g ");
    size_t target = jump_at == std::string::npos ? goto_at
                    : goto_at == std::string::npos ? jump_at
                                                   : std::max(jump_at, goto_at);
    if (target == std::string::npos || (target > 0 && jump.rule[target - 1] != ' ') ||
        !std::string_view(jump.rule).substr(target + 3).starts_with(kChainPrefix) ||
        jump.rule.find(' ', target + 3) != std::string::npos) {
      return Invalid("jump rule " + Quote(jump.rule) + " does not end in \"-j " + std::string(kChainPrefix) + "...\"");
    }
    return Chain(jump.rule.substr(target + 3));
  }

  Status CheckAction(const CreateInterface& action) const { return Interface(action.name); }
  Status CheckAction(const ConfigureInterface& action) const {
    WW_RETURN_IF_ERROR(Interface(action.name));
    const std::string& path = context_.private_key_path;
    if (path.empty() || path[0] == '-' || HasControlCharacter(path)) {
      return Invalid("private key path " + Quote(path) + " is not usable");
    }
    return Status::Ok();
  }
  Status CheckAction(const SetInterfaceMtu& action) const { return Interface(action.name); }
  Status CheckAction(const AddInterfaceAddress& action) const { return Interface(action.name); }
  Status CheckAction(const RemoveInterfaceAddress& action) const { return Interface(action.name); }
  Status CheckAction(const SetInterfaceUp& action) const { return Interface(action.name); }
  Status CheckAction(const UpsertPeer& action) const {
    WW_RETURN_IF_ERROR(Interface(action.interface));
    const std::string& endpoint = action.peer.endpoint;
    if (!endpoint.empty() && (endpoint[0] == '-' || endpoint.find(' ') != std::string::npos ||
                              HasControlCharacter(endpoint))) {
      return Invalid("endpoint " + Quote(endpoint) + " is not a host:port");
    }
    return Status::Ok();
  }
  Status CheckAction(const RemovePeer& action) const { return Interface(action.interface); }
  Status CheckAction(const AddRoute& action) const { return Interface(action.route.device); }
  Status CheckAction(const DeleteRoute& action) const { return Interface(action.route.device); }
  Status CheckAction(const AddRule&) const { return Status::Ok(); }
  Status CheckAction(const DeleteRule&) const { return Status::Ok(); }
  Status CheckAction(const WriteChain& action) const {
    WW_RETURN_IF_ERROR(Chain(action.chain.name));
    return Rules(action.chain.rules);
  }
  Status CheckAction(const EditChain& action) const {
    WW_RETURN_IF_ERROR(Chain(action.name));
    WW_RETURN_IF_ERROR(Rules(action.delete_rules));
    return Rules(action.append_rules);
  }
  Status CheckAction(const DeleteChain& action) const { return Chain(action.name); }
  Status CheckAction(const AddJump& action) const { return Jump(action.jump); }
  Status CheckAction(const DeleteJump& action) const { return Jump(action.jump); }
  Status CheckAction(const SetSysctl& action) const {
    const std::string& key = action.sysctl.key;
    if (key.empty() || key[0] == '-' || key[0] == '.' || key[0] == '/' || key.find("..") != std::string::npos ||
        !AllOf(key, "_.-/")) {
      return Invalid("sysctl key " + Quote(key) + " is not a sysctl name");
    }
    return Text("sysctl value", action.sysctl.value);
  }
  Status CheckAction(const DeleteInterface& action) const { return Interface(action.name); }

  size_t index_;
  const Step& step_;
  const CommandContext& context_;
};

class CommandMaker {
 public:
  explicit CommandMaker(const CommandContext& context) : context_(context) {}

  Command Make(std::vector<std::string> argv, std::string stdin_data = "") const {
    Command command;
    command.argv = std::move(argv);
    command.stdin_data = std::move(stdin_data);
    command.effect = Effect::kMutating;
    command.timeout = context_.timeout;
    return command;
  }

  // The commands of a step that stands alone in its batch.
  std::vector<Command> operator()(const CreateInterface& step) const {
    Command create = CreateInterfaceCommand(step.name, context_.implementation);
    create.timeout = context_.timeout;
    return {std::move(create), Make({"ip", "link", "set", step.name, "mtu", std::to_string(step.mtu)})};
  }
  std::vector<Command> operator()(const ConfigureInterface& step) const {
    std::vector<std::string> argv = {"wg", "set", step.name, "private-key", context_.private_key_path};
    if (step.listen_port != 0) {
      argv.push_back("listen-port");
      argv.push_back(std::to_string(step.listen_port));
    }
    argv.push_back("fwmark");
    argv.push_back(step.fwmark == 0 ? "off" : Hex(step.fwmark));
    return {Make(std::move(argv))};
  }
  std::vector<Command> operator()(const SetInterfaceMtu& step) const {
    return {Make({"ip", "link", "set", step.name, "mtu", std::to_string(step.mtu)})};
  }
  std::vector<Command> operator()(const AddInterfaceAddress& step) const {
    return {Make({"ip", "address", "add", step.address.ToString(), "dev", step.name})};
  }
  std::vector<Command> operator()(const RemoveInterfaceAddress& step) const {
    return {Make({"ip", "address", "del", step.address.ToString(), "dev", step.name})};
  }
  std::vector<Command> operator()(const SetInterfaceUp& step) const {
    return {Make({"ip", "link", "set", step.name, "up"})};
  }
  std::vector<Command> operator()(const AddRoute& step) const { return {Make(RouteArgv("replace", step.route))}; }
  std::vector<Command> operator()(const DeleteRoute& step) const { return {Make(RouteArgv("del", step.route))}; }
  std::vector<Command> operator()(const AddRule& step) const { return {Make(RuleArgv("add", step.rule))}; }
  // The same selectors as the add: `ip rule del priority P` alone deletes whichever rule at
  // P comes first, possibly not ours (peer lesson 1).
  std::vector<Command> operator()(const DeleteRule& step) const { return {Make(RuleArgv("del", step.rule))}; }
  std::vector<Command> operator()(const SetSysctl& step) const {
    return {Make({"sysctl", "-q", "-w", step.sysctl.key + "=" + step.sysctl.value})};
  }
  std::vector<Command> operator()(const DeleteInterface& step) const {
    return {Make({"ip", "link", "del", step.name})};
  }
  // Batched by ToCommandBatches (PeerCommand, RestoreCommand); listed so that a new step
  // kind fails to compile until it has commands.
  std::vector<Command> operator()(const UpsertPeer&) const { return {}; }
  std::vector<Command> operator()(const RemovePeer&) const { return {}; }
  std::vector<Command> operator()(const WriteChain&) const { return {}; }
  std::vector<Command> operator()(const EditChain&) const { return {}; }
  std::vector<Command> operator()(const DeleteChain&) const { return {}; }
  std::vector<Command> operator()(const AddJump&) const { return {}; }
  std::vector<Command> operator()(const DeleteJump&) const { return {}; }

  // One `wg set` for all peer steps of one interface.
  Command PeerCommand(const std::string& interface, const Plan& plan, const std::vector<size_t>& steps) const {
    std::vector<std::string> argv = {"wg", "set", interface};
    for (size_t index : steps) {
      const StepAction& action = plan.steps[index].action;
      if (const auto* remove = std::get_if<RemovePeer>(&action)) {
        argv.insert(argv.end(), {"peer", remove->public_key.ToBase64(), "remove"});
        continue;
      }
      const WireguardPeer& peer = std::get<UpsertPeer>(action).peer;
      argv.insert(argv.end(), {"peer", peer.public_key.ToBase64()});
      if (!peer.endpoint.empty()) {
        auto resolved = context_.resolved_endpoints.find(peer.endpoint);
        argv.insert(argv.end(),
                    {"endpoint", resolved == context_.resolved_endpoints.end() ? peer.endpoint : resolved->second});
      }
      argv.insert(argv.end(), {"persistent-keepalive", std::to_string(peer.persistent_keepalive)});
      std::string allowed;
      for (const Ipv4Cidr& cidr : peer.allowed_ips) {
        if (!allowed.empty()) allowed += ',';
        allowed += cidr.Canonical().ToString();
      }
      // allowed-ips replaces the peer's set; an empty argument clears it.
      argv.insert(argv.end(), {"allowed-ips", allowed});
    }
    return Make(std::move(argv));
  }

  // One atomic `iptables-restore --noflush` for the firewall steps of one table. Inside the
  // script: chains are declared and written before jumps that target them, old jumps are
  // deleted before new ones are inserted, and chains are removed last.
  Command RestoreCommand(FirewallTable table, const Plan& plan, const std::vector<size_t>& steps) const {
    std::string declarations;
    std::string chain_lines;
    std::string delete_jumps;
    std::vector<std::string> insert_jumps;
    std::string flushes;
    std::string removals;
    for (size_t index : steps) {
      const StepAction& action = plan.steps[index].action;
      if (const auto* write = std::get_if<WriteChain>(&action)) {
        // Declaring a chain empties it, also under --noflush: the chain becomes exactly `rules`.
        declarations += ":" + write->chain.name + " - [0:0]\n";
        for (const std::string& rule : write->chain.rules) chain_lines += "-A " + write->chain.name + " " + rule + "\n";
      } else if (const auto* edit = std::get_if<EditChain>(&action)) {
        for (const std::string& rule : edit->delete_rules) chain_lines += "-D " + edit->name + " " + rule + "\n";
        for (const std::string& rule : edit->append_rules) chain_lines += "-A " + edit->name + " " + rule + "\n";
      } else if (const auto* remove_jump = std::get_if<DeleteJump>(&action)) {
        delete_jumps += "-D " + remove_jump->jump.chain + " " + remove_jump->jump.rule + "\n";
      } else if (const auto* add_jump = std::get_if<AddJump>(&action)) {
        insert_jumps.push_back("-I " + add_jump->jump.chain + " 1 " + add_jump->jump.rule + "\n");
      } else if (const auto* remove_chain = std::get_if<DeleteChain>(&action)) {
        flushes += "-F " + remove_chain->name + "\n";
        removals += "-X " + remove_chain->name + "\n";
      }
    }
    std::string script = "*" + std::string(FirewallTableName(table)) + "\n" + declarations + chain_lines + delete_jumps;
    // Each insert lands on top, so inserting in reverse leaves the jumps in plan order.
    for (auto jump = insert_jumps.rbegin(); jump != insert_jumps.rend(); ++jump) script += *jump;
    script += flushes + removals + "COMMIT\n";
    return Make({"iptables-restore", "--noflush", "--wait"}, std::move(script));
  }

 private:
  std::vector<std::string> RouteArgv(const char* verb, const Route& route) const {
    std::vector<std::string> argv = {"ip", "route", verb, route.destination.Canonical().ToString(), "dev", route.device};
    if (route.via && std::string_view(verb) != "del") argv.insert(argv.end(), {"via", route.via->ToString()});
    argv.insert(argv.end(), {"table", std::to_string(route.table), "proto", std::to_string(kRouteProtocol)});
    return argv;
  }

  std::vector<std::string> RuleArgv(const char* verb, const RoutingRule& rule) const {
    std::vector<std::string> argv = {"ip", "rule", verb, "priority", std::to_string(rule.priority)};
    if (rule.from) argv.insert(argv.end(), {"from", rule.from->Canonical().ToString()});
    if (rule.to) argv.insert(argv.end(), {"to", rule.to->Canonical().ToString()});
    if (rule.fwmark != 0) argv.insert(argv.end(), {"fwmark", Hex(rule.fwmark)});
    argv.insert(argv.end(), {"lookup", std::to_string(rule.table), "proto", std::to_string(kRouteProtocol)});
    return argv;
  }

  const CommandContext& context_;
};

}  // namespace

Command CreateInterfaceCommand(const std::string& name, WireguardImplementation implementation) {
  Command command;
  command.effect = Effect::kMutating;
  if (implementation == WireguardImplementation::kUserspace) {
    // The runner's clean environment leaves WG_PROCESS_FOREGROUND unset: wireguard-go
    // daemonizes and this command returns once the device exists.
    command.argv = {"wireguard-go", name};
  } else {
    command.argv = {"ip", "link", "add", name, "type", "wireguard"};
  }
  return command;
}

Status CheckPlanIsSafe(const Plan& plan, const CommandContext& context) {
  for (size_t index = 0; index < plan.steps.size(); ++index) {
    WW_RETURN_IF_ERROR(StepChecker(index, plan.steps[index], context).Check());
  }
  return Status::Ok();
}

Result<std::vector<CommandBatch>> ToCommandBatches(const Plan& plan, const CommandContext& context) {
  WW_RETURN_IF_ERROR(CheckPlanIsSafe(plan, context));

  CommandMaker maker(context);
  std::vector<CommandBatch> batches;
  std::map<std::string, size_t> peer_batches;  // interface -> its batch
  size_t index = 0;
  while (index < plan.steps.size()) {
    const StepAction& action = plan.steps[index].action;
    if (IsFirewallStep(action)) {
      std::vector<FirewallTable> tables;
      std::map<FirewallTable, std::vector<size_t>> steps_by_table;
      for (; index < plan.steps.size() && IsFirewallStep(plan.steps[index].action); ++index) {
        FirewallTable table = TableOf(plan.steps[index].action);
        if (!steps_by_table.contains(table)) tables.push_back(table);
        steps_by_table[table].push_back(index);
      }
      for (FirewallTable table : tables) {
        const std::vector<size_t>& steps = steps_by_table[table];
        batches.push_back({steps, {maker.RestoreCommand(table, plan, steps)}});
      }
      continue;
    }
    if (std::optional<std::string> interface = PeerInterface(action)) {
      auto [found, inserted] = peer_batches.try_emplace(*interface, batches.size());
      if (inserted) batches.push_back({{}, {}});
      batches[found->second].steps.push_back(index);
      ++index;
      continue;
    }
    batches.push_back({{index}, std::visit(maker, action)});
    ++index;
  }
  for (const auto& [interface, batch] : peer_batches) {
    batches[batch].commands.push_back(maker.PeerCommand(interface, plan, batches[batch].steps));
  }
  return batches;
}

Result<std::vector<Command>> ToCommands(const Plan& plan, const CommandContext& context) {
  WW_ASSIGN_OR_RETURN(std::vector<CommandBatch> batches, ToCommandBatches(plan, context));
  std::vector<Command> commands;
  for (CommandBatch& batch : batches) {
    std::move(batch.commands.begin(), batch.commands.end(), std::back_inserter(commands));
  }
  return commands;
}

}  // namespace ww::agent
