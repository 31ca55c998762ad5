// The one adapter around nlohmann/json for reading: every exception it throws is caught here
// and turned into a Status naming the JSON path. Writing goes straight to text through
// JsonWriter, fields in the order written below (golden files depend on it).

#include "schema/wire_json.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "schema/json_document.h"
#include "schema/json_writer.h"
#include "schema/model.h"
#include "schema/resource_fields.h"

namespace ww {

namespace {

using Json = nlohmann::json;

constexpr int kMaxDepth = 64;
constexpr size_t kMaxQuotedBytes = 80;
constexpr size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1
constexpr size_t kMaxChainName = 28;      // iptables' limit

// ---------------------------------------------------------------------------------------
// Writing: straight to text through JsonWriter (schema/json_writer.h), fields in the order
// below.

void WriteCidrs(JsonWriter& out, const std::vector<Ipv4Cidr>& cidrs) {
  out.BeginArray();
  for (const Ipv4Cidr& cidr : cidrs) out.String(cidr.ToString());
  out.EndArray();
}

void Write(JsonWriter& out, const WireguardPeer& peer) {
  out.BeginObject();
  out.Key("name").String(peer.name);
  out.Key("publicKey").String(peer.public_key.ToBase64());
  out.Key("endpoint").String(peer.endpoint);
  out.Key("allowedIps");
  WriteCidrs(out, peer.allowed_ips);
  out.Key("persistentKeepalive").Integer(peer.persistent_keepalive);
  out.EndObject();
}

void Write(JsonWriter& out, const WireguardInterface& interface) {
  out.BeginObject();
  out.Key("name").String(interface.name);
  out.Key("tunnel").String(interface.tunnel);
  out.Key("role").String(InterfaceRoleName(interface.role));
  out.Key("address").String(interface.address.ToString());
  out.Key("listenPort").Integer(interface.listen_port);
  out.Key("mtu").Integer(interface.mtu);
  out.Key("fwmark").Integer(interface.fwmark);
  out.Key("publicKey").String(interface.public_key.ToBase64());
  out.Key("peers").BeginArray();
  for (const WireguardPeer& peer : interface.peers) Write(out, peer);
  out.EndArray();
  out.EndObject();
}

void Write(JsonWriter& out, const Route& route) {
  out.BeginObject();
  out.Key("destination").String(route.destination.ToString());
  out.Key("device").String(route.device);
  if (route.via) out.Key("via").String(route.via->ToString());
  out.Key("table").Integer(route.table);
  out.EndObject();
}

void Write(JsonWriter& out, const RoutingRule& rule) {
  out.BeginObject();
  out.Key("priority").Integer(rule.priority);
  if (rule.from) out.Key("from").String(rule.from->ToString());
  if (rule.to) out.Key("to").String(rule.to->ToString());
  out.Key("fwmark").Integer(rule.fwmark);
  out.Key("table").Integer(rule.table);
  out.EndObject();
}

void Write(JsonWriter& out, const FirewallChain& chain) {
  out.BeginObject();
  out.Key("table").String(FirewallTableName(chain.table));
  out.Key("name").String(chain.name);
  out.Key("rules").Strings(chain.rules);
  out.EndObject();
}

void Write(JsonWriter& out, const FirewallJump& jump) {
  out.BeginObject();
  out.Key("table").String(FirewallTableName(jump.table));
  out.Key("chain").String(jump.chain);
  out.Key("rule").String(jump.rule);
  out.EndObject();
}

void Write(JsonWriter& out, const Sysctl& sysctl) {
  out.BeginObject();
  out.Key("key").String(sysctl.key);
  out.Key("value").String(sysctl.value);
  out.EndObject();
}

void Write(JsonWriter& out, const ObservedPeer& peer) {
  out.BeginObject();
  out.Key("publicKey").String(peer.public_key.ToBase64());
  out.Key("endpoint").String(peer.endpoint);
  out.Key("allowedIps");
  WriteCidrs(out, peer.allowed_ips);
  out.Key("persistentKeepalive").Integer(peer.persistent_keepalive);
  out.Key("latestHandshake").Integer(peer.latest_handshake);
  out.Key("rxBytes").Unsigned(peer.rx_bytes);
  out.Key("txBytes").Unsigned(peer.tx_bytes);
  if (!peer.applied_endpoint.empty()) out.Key("appliedEndpoint").String(peer.applied_endpoint);
  out.EndObject();
}

void Write(JsonWriter& out, const ObservedInterface& interface) {
  out.BeginObject();
  out.Key("name").String(interface.name);
  out.Key("up").Bool(interface.up);
  out.Key("mtu").Integer(interface.mtu);
  out.Key("addresses");
  WriteCidrs(out, interface.addresses);
  out.Key("listenPort").Integer(interface.listen_port);
  out.Key("fwmark").Integer(interface.fwmark);
  if (interface.public_key) out.Key("publicKey").String(interface.public_key->ToBase64());
  out.Key("implementation").String(WireguardImplementationName(interface.implementation));
  out.Key("peers").BeginArray();
  for (const ObservedPeer& peer : interface.peers) Write(out, peer);
  out.EndArray();
  out.EndObject();
}

// Each step: {"type", "destructive", then the fields of its struct}.
struct StepWriter {
  JsonWriter& out;
  bool destructive = false;

  void Head(std::string_view type) {
    out.Key("type").String(type);
    out.Key("destructive").Bool(destructive);
  }
  void operator()(const CreateInterface& step) {
    Head("createInterface");
    out.Key("name").String(step.name);
    out.Key("mtu").Integer(step.mtu);
  }
  void operator()(const ConfigureInterface& step) {
    Head("configureInterface");
    out.Key("name").String(step.name);
    out.Key("listenPort").Integer(step.listen_port);
    out.Key("fwmark").Integer(step.fwmark);
    out.Key("publicKey").String(step.public_key.ToBase64());
  }
  void operator()(const SetInterfaceMtu& step) {
    Head("setInterfaceMtu");
    out.Key("name").String(step.name);
    out.Key("mtu").Integer(step.mtu);
  }
  void operator()(const AddInterfaceAddress& step) {
    Head("addInterfaceAddress");
    out.Key("name").String(step.name);
    out.Key("address").String(step.address.ToString());
  }
  void operator()(const RemoveInterfaceAddress& step) {
    Head("removeInterfaceAddress");
    out.Key("name").String(step.name);
    out.Key("address").String(step.address.ToString());
  }
  void operator()(const SetInterfaceUp& step) {
    Head("setInterfaceUp");
    out.Key("name").String(step.name);
  }
  void operator()(const UpsertPeer& step) {
    Head("upsertPeer");
    out.Key("interface").String(step.interface);
    out.Key("peer");
    Write(out, step.peer);
  }
  void operator()(const RemovePeer& step) {
    Head("removePeer");
    out.Key("interface").String(step.interface);
    out.Key("publicKey").String(step.public_key.ToBase64());
  }
  void operator()(const AddRoute& step) {
    Head("addRoute");
    out.Key("route");
    Write(out, step.route);
  }
  void operator()(const DeleteRoute& step) {
    Head("deleteRoute");
    out.Key("route");
    Write(out, step.route);
  }
  void operator()(const AddRule& step) {
    Head("addRule");
    out.Key("rule");
    Write(out, step.rule);
  }
  void operator()(const DeleteRule& step) {
    Head("deleteRule");
    out.Key("rule");
    Write(out, step.rule);
  }
  void operator()(const WriteChain& step) {
    Head("writeChain");
    out.Key("chain");
    Write(out, step.chain);
  }
  void operator()(const EditChain& step) {
    Head("editChain");
    out.Key("table").String(FirewallTableName(step.table));
    out.Key("name").String(step.name);
    out.Key("deleteRules").Strings(step.delete_rules);
    out.Key("appendRules").Strings(step.append_rules);
  }
  void operator()(const DeleteChain& step) {
    Head("deleteChain");
    out.Key("table").String(FirewallTableName(step.table));
    out.Key("name").String(step.name);
  }
  void operator()(const AddJump& step) {
    Head("addJump");
    out.Key("jump");
    Write(out, step.jump);
  }
  void operator()(const DeleteJump& step) {
    Head("deleteJump");
    out.Key("jump");
    Write(out, step.jump);
  }
  void operator()(const SetSysctl& step) {
    Head("setSysctl");
    out.Key("sysctl");
    Write(out, step.sysctl);
  }
  void operator()(const DeleteInterface& step) {
    Head("deleteInterface");
    out.Key("name").String(step.name);
  }
};

void Write(JsonWriter& out, const Step& step) {
  out.BeginObject();
  std::visit(StepWriter{out, step.destructive == Destructive::kYes}, step.action);
  out.EndObject();
}

template <typename T>
void WriteList(JsonWriter& out, std::string_view key, const std::vector<T>& items) {
  out.Key(key).BeginArray();
  for (const T& item : items) Write(out, item);
  out.EndArray();
}

// ---------------------------------------------------------------------------------------
// Parsing

// `text` as a JSON string literal, cut to a readable length; control characters and
// invalid UTF-8 cannot reach a terminal through an error message.
std::string Quoted(std::string_view text) {
  std::string cut(text.substr(0, kMaxQuotedBytes));
  std::string dumped = Json(cut).dump(-1, ' ', false, Json::error_handler_t::replace);
  // JSON escapes only C0 controls; escape DEL and C1 (U+0080..U+009F) the same way.
  std::string quoted;
  quoted.reserve(dumped.size());
  for (size_t i = 0; i < dumped.size(); ++i) {
    auto byte = static_cast<unsigned char>(dumped[i]);
    auto next = i + 1 < dumped.size() ? static_cast<unsigned char>(dumped[i + 1]) : 0;
    if (byte == 0x7f || (byte == 0xc2 && next >= 0x80 && next <= 0x9f)) {
      unsigned code = byte == 0x7f ? 0x7fu : next;
      const char* hex = "0123456789abcdef";
      quoted += "\\u00";
      quoted += hex[code >> 4];
      quoted += hex[code & 0xf];
      if (byte == 0xc2) ++i;
    } else {
      quoted += dumped[i];
    }
  }
  if (text.size() > kMaxQuotedBytes) quoted += "…";
  return quoted;
}

// "string \"51820\"", "number 1.5", "object": what was found instead of what was expected.
std::string DescribeValue(const Json& value) {
  if (value.is_string()) return "string " + Quoted(value.get_ref<const std::string&>());
  if (value.is_object() || value.is_array() || value.is_null()) return value.type_name();
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  return std::string(value.type_name()) + " " + text;
}

std::string Child(const std::string& path, std::string_view field) {
  return path.empty() ? std::string(field) : path + "." + std::string(field);
}

std::string Element(const std::string& path, size_t index) { return path + "[" + std::to_string(index) + "]"; }

// The path of a field found in the input: quoted unless it is a plain word.
std::string FieldPath(const std::string& path, const std::string& field) {
  bool plain = !field.empty() && field.size() <= kMaxQuotedBytes &&
               std::all_of(field.begin(), field.end(), [](char c) {
                 return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
               });
  return Child(path, plain ? field : Quoted(field));
}

Status Fail(const std::string& path, const std::string& message) {
  return Status::InvalidArgument(path.empty() ? message : path + ": " + message);
}

// Builds the document from nlohmann's SAX events, refusing duplicate keys (nlohmann keeps
// the last one silently) and nesting deeper than max_depth (a very deep document parses but
// crashes later when copied or dumped) with their path. nlohmann's own callback parser is
// not used: it rescans the parent on every closed object, quadratic in array length.
class DocumentBuilder : public nlohmann::json_sax<Json> {
 public:
  explicit DocumentBuilder(int max_depth) : max_depth_(max_depth) {}

  bool null() override { return Add(nullptr); }
  bool boolean(bool value) override { return Add(value); }
  bool number_integer(number_integer_t value) override { return Add(value); }
  bool number_unsigned(number_unsigned_t value) override { return Add(value); }
  bool number_float(number_float_t value, const string_t& /*text*/) override { return Add(value); }
  bool string(string_t& value) override { return Add(std::move(value)); }
  bool binary(binary_t& /*value*/) override { return Fail("binary values are not JSON"); }

  bool start_object(std::size_t /*size*/) override { return Open(Json::value_t::object); }
  bool start_array(std::size_t /*size*/) override { return Open(Json::value_t::array); }
  bool end_object() override { return Close(); }
  bool end_array() override { return Close(); }

  bool key(string_t& name) override {
    Frame& frame = frames_.back();
    frame.key = name;
    if (frame.value->contains(name)) return Fail("duplicate key");
    frame.slot = &(*frame.value)[name];
    return true;
  }

  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& error) override {
    // "[json.exception.parse_error.101] parse error at line 1, column 4: ..." -> the part
    // after the bracketed tag.
    std::string_view message = error.what();
    if (size_t end = message.find("] "); !message.empty() && message[0] == '[' && end != std::string_view::npos) {
      message.remove_prefix(end + 2);
    }
    error_ = "invalid JSON: " + std::string(message);
    return false;
  }

  const std::string& error() const { return error_; }
  bool too_deep() const { return too_deep_; }
  Json& document() { return document_; }

 private:
  struct Frame {
    Json* value = nullptr;  // the open object or array
    std::string key;        // objects: the member being read
    Json* slot = nullptr;   // objects: where that member's value goes
  };

  // Stores a value where the parser is; returns where it went.
  template <typename Value>
  Json* Place(Value&& value) {
    if (frames_.empty()) {
      document_ = Json(std::forward<Value>(value));
      return &document_;
    }
    Frame& frame = frames_.back();
    if (frame.value->is_array()) {
      frame.value->emplace_back(std::forward<Value>(value));
      return &frame.value->back();
    }
    *frame.slot = Json(std::forward<Value>(value));
    return frame.slot;
  }
  template <typename Value>
  bool Add(Value&& value) {
    Place(std::forward<Value>(value));
    return true;
  }
  bool Open(Json::value_t type) {
    if (frames_.size() >= static_cast<size_t>(max_depth_)) {
      too_deep_ = true;
      return Fail("nesting deeper than " + std::to_string(max_depth_) + " levels");
    }
    Json* value = Place(type);
    frames_.push_back({value, {}, nullptr});
    return true;
  }
  bool Close() {
    frames_.pop_back();
    return true;
  }
  bool Fail(const std::string& message) {
    error_ = Location() + message;
    return false;
  }

  // "interfaces[0].name: ", or "" at the top: the place being parsed.
  std::string Location() const {
    std::string path;
    for (size_t i = 0; i < frames_.size(); ++i) {
      const Frame& frame = frames_[i];
      if (frame.value->is_object()) {
        path = FieldPath(path, frame.key);
      } else {
        // Below the top an array's last element is open; at the top the next one is coming.
        size_t size = frame.value->size();
        path = Element(path, i + 1 < frames_.size() ? size - 1 : size);
      }
    }
    return path.empty() ? "" : path + ": ";
  }

  int max_depth_;
  bool too_deep_ = false;
  Json document_;
  std::vector<Frame> frames_;
  std::string error_;
};

// A fast reader for the common case: plain JSON as our writers produce it (ASCII strings,
// integers). It builds the same tree as DocumentBuilder, about twice as fast as nlohmann's
// lexer for a large config. Anything else (an error, a duplicate key, nesting deeper than
// max_depth, non-ASCII text, a \u escape, a fraction or exponent, an integer beyond 64
// bits) makes it give up, and the full parser reads the text again: so every message,
// every edge case and every refusal stays the full parser's.
class FastReader {
 public:
  FastReader(std::string_view text, int max_depth) : text_(text), max_depth_(max_depth) {}

  // The document, or nullopt when the full parser must read it.
  std::optional<Json> Read() {
    Json document;
    if (!Value(document, 0)) return std::nullopt;
    SkipSpace();
    if (position_ != text_.size()) return std::nullopt;
    return document;
  }

 private:
  void SkipSpace() {
    while (position_ < text_.size()) {
      char c = text_[position_];
      if (c != ' ' && c != '\n' && c != '\t' && c != '\r') return;
      ++position_;
    }
  }

  bool Consume(std::string_view word) {
    if (text_.substr(position_, word.size()) != word) return false;
    position_ += word.size();
    return true;
  }

  bool Value(Json& out, int depth) {
    SkipSpace();
    if (position_ >= text_.size()) return false;
    char c = text_[position_];
    if (c == '{') return Object(out, depth + 1);
    if (c == '[') return Array(out, depth + 1);
    if (c == '"') {
      std::string value;
      if (!String(value)) return false;
      out = std::move(value);
      return true;
    }
    if (Consume("true")) {
      out = true;
    } else if (Consume("false")) {
      out = false;
    } else if (Consume("null")) {
      out = nullptr;
    } else {
      return Number(out);
    }
    return true;
  }

  // As nlohmann: non-negative integers are unsigned, negative ones signed.
  bool Number(Json& out) {
    bool negative = position_ < text_.size() && text_[position_] == '-';
    if (negative) ++position_;
    size_t digits = position_;
    uint64_t value = 0;
    while (position_ < text_.size() && text_[position_] >= '0' && text_[position_] <= '9') {
      uint64_t digit = static_cast<uint64_t>(text_[position_] - '0');
      if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
      value = value * 10 + digit;
      ++position_;
    }
    size_t count = position_ - digits;
    if (count == 0 || (count > 1 && text_[digits] == '0')) return false;
    if (position_ < text_.size()) {
      char next = text_[position_];
      if (next == '.' || next == 'e' || next == 'E') return false;
    }
    if (!negative) {
      out = Json(static_cast<Json::number_unsigned_t>(value));
      return true;
    }
    constexpr uint64_t kMinMagnitude = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1;
    if (value > kMinMagnitude) return false;
    // -0 is an integer 0 for nlohmann as well.
    out = Json(value == kMinMagnitude ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(value));
    return true;
  }

  bool String(std::string& out) {
    ++position_;  // the opening quote
    while (position_ < text_.size()) {
      size_t run = position_;
      while (position_ < text_.size()) {
        auto byte = static_cast<unsigned char>(text_[position_]);
        if (byte == '"' || byte == '\\' || byte < 0x20 || byte >= 0x80) break;
        ++position_;
      }
      out.append(text_, run, position_ - run);
      if (position_ >= text_.size()) return false;
      char c = text_[position_++];
      if (c == '"') return true;
      if (c != '\\' || position_ >= text_.size()) return false;  // a control or non-ASCII byte
      switch (text_[position_++]) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        default: return false;  // \u and invalid escapes
      }
    }
    return false;
  }

  bool Array(Json& out, int depth) {
    if (depth > max_depth_) return false;
    ++position_;
    out = Json::array();
    SkipSpace();
    if (position_ < text_.size() && text_[position_] == ']') {
      ++position_;
      return true;
    }
    while (true) {
      out.emplace_back();
      if (!Value(out.back(), depth)) return false;
      SkipSpace();
      if (position_ >= text_.size()) return false;
      char c = text_[position_++];
      if (c == ']') return true;
      if (c != ',') return false;
    }
  }

  bool Object(Json& out, int depth) {
    if (depth > max_depth_) return false;
    ++position_;
    out = Json::object();
    SkipSpace();
    if (position_ < text_.size() && text_[position_] == '}') {
      ++position_;
      return true;
    }
    while (true) {
      SkipSpace();
      if (position_ >= text_.size() || text_[position_] != '"') return false;
      std::string key;
      if (!String(key)) return false;
      SkipSpace();
      if (position_ >= text_.size() || text_[position_++] != ':') return false;
      auto [slot, inserted] = out.get_ref<Json::object_t&>().try_emplace(std::move(key));
      if (!inserted) return false;
      if (!Value(slot->second, depth)) return false;
      SkipSpace();
      if (position_ >= text_.size()) return false;
      char c = text_[position_++];
      if (c == '}') return true;
      if (c != ',') return false;
    }
  }

  std::string_view text_;
  int max_depth_;
  size_t position_ = 0;
};

}  // namespace

ParsedJson ParseJsonDocument(std::string_view text, int max_depth) {
  try {
    if (std::optional<Json> document = FastReader(text, max_depth).Read()) {
      return ParsedJson{JsonVerdict::kParsed, std::move(*document), {}};
    }
  } catch (const std::exception&) {
    // Out of memory or a nlohmann surprise: the full parser below decides.
  }
  DocumentBuilder builder(max_depth);
  try {
    bool ok = Json::sax_parse(text.begin(), text.end(), &builder, nlohmann::detail::input_format_t::json,
                              /*strict=*/true, /*ignore_comments=*/false);
    if (!ok) {
      return ParsedJson{builder.too_deep() ? JsonVerdict::kTooDeep : JsonVerdict::kInvalid, nullptr,
                        builder.error().empty() ? "invalid JSON" : builder.error()};
    }
  } catch (const std::exception& error) {
    return ParsedJson{JsonVerdict::kInvalid, nullptr, std::string("invalid JSON: ") + error.what()};
  }
  return ParsedJson{JsonVerdict::kParsed, std::move(builder.document()), {}};
}

namespace {

Result<Json> ParseDocument(std::string_view text) {
  ParsedJson parsed = ParseJsonDocument(text, kMaxDepth);
  if (parsed.verdict != JsonVerdict::kParsed) return Status::InvalidArgument(std::move(parsed.error));
  return std::move(parsed.document);
}

// What a string field may hold. Every rule refuses control characters (C0, DEL, C1): the
// values end up in argv, iptables-restore input, logs and terminals.
enum class TextRule {
  kText,           // free text
  kName,           // a resource name: ^[a-z0-9][a-z0-9-]{0,62}$
  kOptionalName,   // "" or a resource name
  kInterfaceName,  // ^[A-Za-z0-9_][A-Za-z0-9_.=+-]{0,14}$
  kChainName,      // WIREWARP-[A-Za-z0-9_-]*, at most 28 characters
  kBuiltinChain,   // ^[A-Za-z0-9_][A-Za-z0-9_-]{0,27}$ ("PREROUTING", "DOCKER-USER")
  kSysctlKey,      // dot-separated words of [A-Za-z0-9_=+-], no leading '-'
  kEndpoint,       // "" or HOST:PORT
};

bool IsControl(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 || byte == 0x7f) return true;
    // U+0080..U+009F are C1 controls (0x9b is a terminal's CSI).
    if (byte == 0xc2 && i + 1 < text.size()) {
      auto next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9f) return true;
    }
  }
  return false;
}

bool IsWordChar(char c, std::string_view extra) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         extra.find(c) != std::string_view::npos;
}

bool AllWordChars(std::string_view text, std::string_view extra) {
  return std::all_of(text.begin(), text.end(), [&](char c) { return IsWordChar(c, extra); });
}

bool IsInterfaceName(std::string_view text) {
  return !text.empty() && text.size() <= kMaxInterfaceName && IsWordChar(text[0], "") && AllWordChars(text, ".=+-");
}

bool IsSysctlKey(std::string_view text) {
  if (text.empty() || text[0] == '-') return false;
  size_t start = 0;
  while (true) {
    size_t dot = text.find('.', start);
    std::string_view part = text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty() || !AllWordChars(part, "=+-")) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// An empty string when `text` satisfies `rule`, else why not (quoting the text).
std::string CheckText(std::string_view text, TextRule rule) {
  if (IsControl(text)) return Quoted(text) + " contains a control character";
  switch (rule) {
    case TextRule::kText:
      return "";
    case TextRule::kOptionalName:
      if (text.empty()) return "";
      [[fallthrough]];
    case TextRule::kName:
      return IsValidName(text) ? "" : Quoted(text) + " is not a name (expected ^[a-z0-9][a-z0-9-]{0,62}$)";
    case TextRule::kInterfaceName:
      return IsInterfaceName(text) ? ""
                                   : Quoted(text) + " is not an interface name (expected 1-15 of A-Z a-z 0-9 _ . = + -, "
                                                    "not starting with . = + -)";
    case TextRule::kChainName:
      if (text.size() > kChainPrefix.size() && text.size() <= kMaxChainName && text.starts_with(kChainPrefix) &&
          AllWordChars(text, "-")) {
        return "";
      }
      return Quoted(text) + " is not a WireWarp chain name (expected " + std::string(kChainPrefix) +
             "NAME, at most 28 of A-Z a-z 0-9 _ -)";
    case TextRule::kBuiltinChain:
      if (!text.empty() && text.size() <= kMaxChainName && IsWordChar(text[0], "") && AllWordChars(text, "-")) return "";
      return Quoted(text) + " is not a chain name (expected at most 28 of A-Z a-z 0-9 _ -, not starting with -)";
    case TextRule::kSysctlKey:
      return IsSysctlKey(text) ? "" : Quoted(text) + " is not a sysctl key (expected words of A-Z a-z 0-9 _ = + - joined by dots)";
    case TextRule::kEndpoint: {
      if (text.empty()) return "";
      size_t colon = text.rfind(':');
      bool host_ok = colon != std::string_view::npos && colon > 0 &&
                     std::none_of(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(colon),
                                  [](char c) { return c == ' ' || c == '/'; }) &&
                     text[0] != '-';
      if (host_ok && ParsePort(text.substr(colon + 1)).ok()) return "";
      return Quoted(text) + " is not an endpoint (expected HOST:PORT, e.g. vpn.example.com:51820)";
    }
  }
  return "";
}

Status ReadString(const Json& value, const std::string& path, TextRule rule, std::string& out) {
  if (!value.is_string()) return Fail(path, "expected a string, got " + DescribeValue(value));
  const std::string& text = value.get_ref<const std::string&>();
  if (std::string problem = CheckText(text, rule); !problem.empty()) return Fail(path, problem);
  out = text;
  return Status::Ok();
}

// Returns the string in `value` for a typed parse, after the control-character check, so
// that the parse's own message (which quotes the text) is safe to print.
Status ReadRawText(const Json& value, const std::string& path, std::string& out) {
  return ReadString(value, path, TextRule::kText, out);
}

template <typename Int>
Status ReadInteger(const Json& value, const std::string& path, Int min, Int max, Int& out) {
  auto range = [&] { return " is out of range (expected " + std::to_string(min) + "-" + std::to_string(max) + ")"; };
  if (!value.is_number_integer()) {
    return Fail(path, "expected an integer " + std::to_string(min) + "-" + std::to_string(max) + ", got " +
                          DescribeValue(value));
  }
  if (value.is_number_unsigned()) {
    auto number = value.get<uint64_t>();
    if (std::cmp_less(number, min) || std::cmp_greater(number, max)) return Fail(path, std::to_string(number) + range());
    out = static_cast<Int>(number);
  } else {
    auto number = value.get<int64_t>();
    if (std::cmp_less(number, min) || std::cmp_greater(number, max)) return Fail(path, std::to_string(number) + range());
    out = static_cast<Int>(number);
  }
  return Status::Ok();
}

Status ReadBool(const Json& value, const std::string& path, bool& out) {
  if (!value.is_boolean()) return Fail(path, "expected true or false, got " + DescribeValue(value));
  out = value.get<bool>();
  return Status::Ok();
}

Status ReadKey(const Json& value, const std::string& path, WireguardKey& out) {
  std::string text;
  WW_RETURN_IF_ERROR(ReadRawText(value, path, text));
  auto key = WireguardKey::Parse(text);
  if (!key.ok()) return Fail(path, key.status().message());
  out = *key;
  return Status::Ok();
}

enum class CanonicalOnly { kNo, kYes };

Status ReadCidr(const Json& value, const std::string& path, CanonicalOnly canonical, Ipv4Cidr& out) {
  std::string text;
  WW_RETURN_IF_ERROR(ReadRawText(value, path, text));
  auto cidr = Ipv4Cidr::Parse(text);
  if (!cidr.ok()) return Fail(path, cidr.status().message());
  if (canonical == CanonicalOnly::kYes && !cidr->IsCanonical()) {
    return Fail(path, Quoted(text) + " has host bits set (did you mean \"" + cidr->Canonical().ToString() + "\"?)");
  }
  out = *cidr;
  return Status::Ok();
}

Status ReadAddress(const Json& value, const std::string& path, Ipv4Address& out) {
  std::string text;
  WW_RETURN_IF_ERROR(ReadRawText(value, path, text));
  auto address = Ipv4Address::Parse(text);
  if (!address.ok()) return Fail(path, address.status().message());
  out = *address;
  return Status::Ok();
}

// Reads an enum written as one of `names` (index i is enum value i).
template <typename Enum>
Status ReadEnum(const Json& value, const std::string& path, std::initializer_list<std::pair<std::string_view, Enum>> names,
                Enum& out) {
  std::string text;
  WW_RETURN_IF_ERROR(ReadRawText(value, path, text));
  std::string expected;
  for (const auto& [name, item] : names) {
    if (text == name) {
      out = item;
      return Status::Ok();
    }
    expected += (expected.empty() ? "\"" : ", \"") + std::string(name) + "\"";
  }
  return Fail(path, Quoted(text) + " is not one of " + expected);
}

Status ReadTable(const Json& value, const std::string& path, FirewallTable& out) {
  return ReadEnum(value, path,
                  {{"filter", FirewallTable::kFilter}, {"nat", FirewallTable::kNat}, {"mangle", FirewallTable::kMangle}},
                  out);
}

template <typename Each>
Status ReadArray(const Json& value, const std::string& path, Each each) {
  if (!value.is_array()) return Fail(path, "expected an array, got " + DescribeValue(value));
  for (size_t i = 0; i < value.size(); ++i) WW_RETURN_IF_ERROR(each(value[i], Element(path, i)));
  return Status::Ok();
}

Status ReadStringList(const Json& value, const std::string& path, TextRule rule, std::vector<std::string>& out) {
  out.clear();
  return ReadArray(value, path, [&](const Json& element, const std::string& element_path) {
    out.emplace_back();
    return ReadString(element, element_path, rule, out.back());
  });
}

Status ReadCidrList(const Json& value, const std::string& path, CanonicalOnly canonical, std::vector<Ipv4Cidr>& out) {
  out.clear();
  return ReadArray(value, path, [&](const Json& element, const std::string& element_path) {
    out.emplace_back();
    return ReadCidr(element, element_path, canonical, out.back());
  });
}

// One JSON object being read: Open checks its shape (an object, no unknown field, every
// required field present), then the typed getters read fields by name.
class ObjectReader {
 public:
  ObjectReader(const Json& value, std::string path) : value_(value), path_(std::move(path)) {}

  Status Open(const std::vector<std::string_view>& required, const std::vector<std::string_view>& optional = {}) {
    if (!value_.is_object()) return Fail(path_, "expected an object, got " + DescribeValue(value_));
    std::vector<std::string_view> known(required);
    known.insert(known.end(), optional.begin(), optional.end());
    for (auto it = value_.begin(); it != value_.end(); ++it) {
      const std::string& field = it.key();
      if (std::find(known.begin(), known.end(), field) != known.end()) continue;
      std::string message = "unknown field";
      if (std::string_view hint = ClosestName(field, known); !hint.empty()) {
        message += " (did you mean \"" + std::string(hint) + "\"?)";
      }
      return Fail(FieldPath(path_, field), message);
    }
    for (std::string_view field : required) {
      if (!value_.contains(field)) return Fail(path_.empty() ? "document" : path_, "missing field \"" + std::string(field) + "\"");
    }
    return Status::Ok();
  }

  bool Has(std::string_view field) const { return value_.contains(field); }
  const Json& At(std::string_view field) const { return value_.find(field).value(); }
  std::string PathOf(std::string_view field) const { return Child(path_, field); }

  Status String(std::string_view field, TextRule rule, std::string& out) const {
    return ReadString(At(field), PathOf(field), rule, out);
  }
  template <typename Int>
  Status Integer(std::string_view field, Int min, Int max, Int& out) const {
    return ReadInteger(At(field), PathOf(field), min, max, out);
  }
  Status Bool(std::string_view field, bool& out) const { return ReadBool(At(field), PathOf(field), out); }
  Status Key(std::string_view field, WireguardKey& out) const { return ReadKey(At(field), PathOf(field), out); }
  Status Cidr(std::string_view field, CanonicalOnly canonical, Ipv4Cidr& out) const {
    return ReadCidr(At(field), PathOf(field), canonical, out);
  }
  Status OptionalCidr(std::string_view field, std::optional<Ipv4Cidr>& out) const {
    out.reset();
    if (!Has(field)) return Status::Ok();
    out.emplace();
    return ReadCidr(At(field), PathOf(field), CanonicalOnly::kNo, *out);
  }
  Status Table(std::string_view field, FirewallTable& out) const { return ReadTable(At(field), PathOf(field), out); }
  template <typename Each>
  Status Array(std::string_view field, Each each) const {
    return ReadArray(At(field), PathOf(field), each);
  }

 private:
  const Json& value_;
  std::string path_;
};

constexpr uint32_t kMaxUint32 = std::numeric_limits<uint32_t>::max();
constexpr int kMinMtu = 68;
constexpr int kMaxMtu = 65535;
constexpr int kMaxKeepalive = 65535;

Status ReadPeer(const Json& value, const std::string& path, WireguardPeer& out) {
  ObjectReader object(value, path);
  WW_RETURN_IF_ERROR(object.Open({"name", "publicKey", "endpoint", "allowedIps", "persistentKeepalive"}));
  WW_RETURN_IF_ERROR(object.String("name", TextRule::kOptionalName, out.name));
  WW_RETURN_IF_ERROR(object.Key("publicKey", out.public_key));
  WW_RETURN_IF_ERROR(object.String("endpoint", TextRule::kEndpoint, out.endpoint));
  WW_RETURN_IF_ERROR(ReadCidrList(object.At("allowedIps"), object.PathOf("allowedIps"), CanonicalOnly::kYes, out.allowed_ips));
  return object.Integer("persistentKeepalive", 0, kMaxKeepalive, out.persistent_keepalive);
}

Status ReadInterface(const Json& value, const std::string& path, WireguardInterface& out) {
  ObjectReader object(value, path);
  WW_RETURN_IF_ERROR(
      object.Open({"name", "tunnel", "role", "address", "listenPort", "mtu", "fwmark", "publicKey", "peers"}));
  WW_RETURN_IF_ERROR(object.String("name", TextRule::kInterfaceName, out.name));
  WW_RETURN_IF_ERROR(object.String("tunnel", TextRule::kName, out.tunnel));
  WW_RETURN_IF_ERROR(ReadEnum(object.At("role"), object.PathOf("role"),
                              {{"server", InterfaceRole::kServer}, {"client", InterfaceRole::kClient}}, out.role));
  WW_RETURN_IF_ERROR(object.Cidr("address", CanonicalOnly::kNo, out.address));
  WW_RETURN_IF_ERROR(object.Integer<uint16_t>("listenPort", 0, 65535, out.listen_port));
  WW_RETURN_IF_ERROR(object.Integer("mtu", kMinMtu, kMaxMtu, out.mtu));
  WW_RETURN_IF_ERROR(object.Integer<uint32_t>("fwmark", 0, kMaxUint32, out.fwmark));
  WW_RETURN_IF_ERROR(object.Key("publicKey", out.public_key));
  out.peers.clear();
  return object.Array("peers", [&](const Json& element, const std::string& element_path) {
    out.peers.emplace_back();
    return ReadPeer(element, element_path, out.peers.back());
  });
}

Status ReadRoute(const Json& value, const std::string& path, Route& out) {
  ObjectReader object(value, path);
  WW_RETURN_IF_ERROR(object.Open({"destination", "device", "table"}, {"via"}));
  WW_RETURN_IF_ERROR(object.Cidr("destination", CanonicalOnly::kYes, out.destination));
  WW_RETURN_IF_ERROR(object.String("device", TextRule::kInterfaceName, out.device));
  out.via.reset();
  if (object.Has("via")) {
    out.via.emplace();
    WW_RETURN_IF_ERROR(ReadAddress(object.At("via"), object.PathOf("via"), *out.via));
  }
  return object.Integer<uint32_t>("table", 0, kMaxUint32, out.table);
}

Status ReadRule(const Json& value, const std::string& path, RoutingRule& out) {
  ObjectReader object(value, path);
  WW_RETURN_IF_ERROR(object.Open({"priority", "fwmark", "table"}, {"from", "to"}));
  WW_RETURN_IF_ERROR(object.Integer<uint32_t>("priority", 0, kMaxUint32, out.priority));
  WW_RETURN_IF_ERROR(object.OptionalCidr("from", out.from));
  WW_RETURN_IF_ERROR(object.OptionalCidr("to", out.to));
  WW_RETURN_IF_ERROR(object.Integer<uint32_t>("fwmark", 0, kMaxUint32, out.fwmark));
  return object.Integer<uint32_t>("table", 0, kMaxUint32, out.table);
}

Status ReadChain(const Json& value, const std::string& path, FirewallChain& out) {
  ObjectReader object(value, path);
  WW_RETURN_IF_ERROR(object.Open({"table", "name", "rules"}));
  WW_RETURN_IF_ERROR(object.Table("table", out.table));
  WW_RETURN_IF_ERROR(object.String("name", TextRule::kChainName, out.name));
  return ReadStringList(object.At("rules"), object.PathOf("rules"), TextRule::kText, out.rules);
}

Status ReadJump(const Json& value, const std::string& path, FirewallJump& out) {
  ObjectReader object(value, path);
  WW_RETURN_IF_ERROR(object.Open({"table", "chain", "rule"}));
  WW_RETURN_IF_ERROR(object.Table("table", out.table));
  WW_RETURN_IF_ERROR(object.String("chain", TextRule::kBuiltinChain, out.chain));
  return object.String("rule", TextRule::kText, out.rule);
}

Status ReadSysctl(const Json& value, const std::string& path, Sysctl& out) {
  ObjectReader object(value, path);
  WW_RETURN_IF_ERROR(object.Open({"key", "value"}));
  WW_RETURN_IF_ERROR(object.String("key", TextRule::kSysctlKey, out.key));
  return object.String("value", TextRule::kText, out.value);
}

template <typename T, typename Reader>
Status ReadList(const ObjectReader& object, std::string_view field, Reader reader, std::vector<T>& out) {
  out.clear();
  return object.Array(field, [&](const Json& element, const std::string& element_path) {
    out.emplace_back();
    return reader(element, element_path, out.back());
  });
}

Status ReadObservedPeer(const Json& value, const std::string& path, ObservedPeer& out) {
  ObjectReader object(value, path);
  WW_RETURN_IF_ERROR(object.Open(
      {"publicKey", "endpoint", "allowedIps", "persistentKeepalive", "latestHandshake", "rxBytes", "txBytes"},
      {"appliedEndpoint"}));
  out.applied_endpoint.clear();
  if (object.Has("appliedEndpoint")) {
    WW_RETURN_IF_ERROR(object.String("appliedEndpoint", TextRule::kEndpoint, out.applied_endpoint));
  }
  WW_RETURN_IF_ERROR(object.Key("publicKey", out.public_key));
  WW_RETURN_IF_ERROR(object.String("endpoint", TextRule::kEndpoint, out.endpoint));
  WW_RETURN_IF_ERROR(ReadCidrList(object.At("allowedIps"), object.PathOf("allowedIps"), CanonicalOnly::kYes, out.allowed_ips));
  WW_RETURN_IF_ERROR(object.Integer("persistentKeepalive", 0, kMaxKeepalive, out.persistent_keepalive));
  WW_RETURN_IF_ERROR(
      object.Integer<int64_t>("latestHandshake", 0, std::numeric_limits<int64_t>::max(), out.latest_handshake));
  WW_RETURN_IF_ERROR(object.Integer<uint64_t>("rxBytes", 0, std::numeric_limits<uint64_t>::max(), out.rx_bytes));
  return object.Integer<uint64_t>("txBytes", 0, std::numeric_limits<uint64_t>::max(), out.tx_bytes);
}

Status ReadObservedInterface(const Json& value, const std::string& path, ObservedInterface& out) {
  ObjectReader object(value, path);
  WW_RETURN_IF_ERROR(object.Open({"name", "up", "mtu", "addresses", "listenPort", "fwmark", "implementation", "peers"},
                                 {"publicKey"}));
  WW_RETURN_IF_ERROR(object.String("name", TextRule::kInterfaceName, out.name));
  WW_RETURN_IF_ERROR(object.Bool("up", out.up));
  WW_RETURN_IF_ERROR(object.Integer("mtu", 0, kMaxMtu, out.mtu));
  WW_RETURN_IF_ERROR(ReadCidrList(object.At("addresses"), object.PathOf("addresses"), CanonicalOnly::kNo, out.addresses));
  WW_RETURN_IF_ERROR(object.Integer<uint16_t>("listenPort", 0, 65535, out.listen_port));
  WW_RETURN_IF_ERROR(object.Integer<uint32_t>("fwmark", 0, kMaxUint32, out.fwmark));
  out.public_key.reset();
  if (object.Has("publicKey")) {
    out.public_key.emplace();
    WW_RETURN_IF_ERROR(object.Key("publicKey", *out.public_key));
  }
  WW_RETURN_IF_ERROR(ReadEnum(object.At("implementation"), object.PathOf("implementation"),
                              {{"unknown", WireguardImplementation::kUnknown},
                               {"kernel", WireguardImplementation::kKernel},
                               {"userspace", WireguardImplementation::kUserspace}},
                              out.implementation));
  return ReadList(object, "peers", ReadObservedPeer, out.peers);
}

// Opens a top-level message: an object whose "formatVersion" is the one this build reads.
Status OpenDocument(ObjectReader& object, const Json& document, std::initializer_list<std::string_view> fields,
                    std::initializer_list<std::string_view> optional = {}) {
  if (!document.is_object()) return Fail("", "expected a JSON object, got " + DescribeValue(document));
  if (!document.contains("formatVersion")) return Fail("", "missing field \"formatVersion\"");
  int version = 0;
  WW_RETURN_IF_ERROR(ReadInteger(document.at("formatVersion"), "formatVersion", 0, std::numeric_limits<int>::max(), version));
  if (version != kWireFormatVersion) {
    return Fail("formatVersion", std::to_string(version) + " is not supported (this build reads version " +
                                     std::to_string(kWireFormatVersion) + ")");
  }
  return object.Open(fields, optional);
}

// --- Steps ---

using StepReader = Status (*)(const ObjectReader&, StepAction&);

template <typename T>
T& Emplace(StepAction& action) {
  return action.emplace<T>();
}

Status ReadMtu(const ObjectReader& object, int& out) { return object.Integer("mtu", kMinMtu, kMaxMtu, out); }

struct StepKind {
  std::string_view type;
  std::vector<std::string_view> fields;  // besides "type" and "destructive"
  StepReader read;
};

const std::vector<StepKind>& StepKinds() {
  static const std::vector<StepKind> kinds = {
      {"createInterface", {"name", "mtu"},
       [](const ObjectReader& o, StepAction& a) {
         auto& step = Emplace<CreateInterface>(a);
         WW_RETURN_IF_ERROR(o.String("name", TextRule::kInterfaceName, step.name));
         return ReadMtu(o, step.mtu);
       }},
      {"configureInterface", {"name", "listenPort", "fwmark", "publicKey"},
       [](const ObjectReader& o, StepAction& a) {
         auto& step = Emplace<ConfigureInterface>(a);
         WW_RETURN_IF_ERROR(o.String("name", TextRule::kInterfaceName, step.name));
         WW_RETURN_IF_ERROR(o.Integer<uint16_t>("listenPort", 0, 65535, step.listen_port));
         WW_RETURN_IF_ERROR(o.Integer<uint32_t>("fwmark", 0, kMaxUint32, step.fwmark));
         return o.Key("publicKey", step.public_key);
       }},
      {"setInterfaceMtu", {"name", "mtu"},
       [](const ObjectReader& o, StepAction& a) {
         auto& step = Emplace<SetInterfaceMtu>(a);
         WW_RETURN_IF_ERROR(o.String("name", TextRule::kInterfaceName, step.name));
         return ReadMtu(o, step.mtu);
       }},
      {"addInterfaceAddress", {"name", "address"},
       [](const ObjectReader& o, StepAction& a) {
         auto& step = Emplace<AddInterfaceAddress>(a);
         WW_RETURN_IF_ERROR(o.String("name", TextRule::kInterfaceName, step.name));
         return o.Cidr("address", CanonicalOnly::kNo, step.address);
       }},
      {"removeInterfaceAddress", {"name", "address"},
       [](const ObjectReader& o, StepAction& a) {
         auto& step = Emplace<RemoveInterfaceAddress>(a);
         WW_RETURN_IF_ERROR(o.String("name", TextRule::kInterfaceName, step.name));
         return o.Cidr("address", CanonicalOnly::kNo, step.address);
       }},
      {"setInterfaceUp", {"name"},
       [](const ObjectReader& o, StepAction& a) {
         return o.String("name", TextRule::kInterfaceName, Emplace<SetInterfaceUp>(a).name);
       }},
      {"upsertPeer", {"interface", "peer"},
       [](const ObjectReader& o, StepAction& a) {
         auto& step = Emplace<UpsertPeer>(a);
         WW_RETURN_IF_ERROR(o.String("interface", TextRule::kInterfaceName, step.interface));
         return ReadPeer(o.At("peer"), o.PathOf("peer"), step.peer);
       }},
      {"removePeer", {"interface", "publicKey"},
       [](const ObjectReader& o, StepAction& a) {
         auto& step = Emplace<RemovePeer>(a);
         WW_RETURN_IF_ERROR(o.String("interface", TextRule::kInterfaceName, step.interface));
         return o.Key("publicKey", step.public_key);
       }},
      {"addRoute", {"route"},
       [](const ObjectReader& o, StepAction& a) {
         return ReadRoute(o.At("route"), o.PathOf("route"), Emplace<AddRoute>(a).route);
       }},
      {"deleteRoute", {"route"},
       [](const ObjectReader& o, StepAction& a) {
         return ReadRoute(o.At("route"), o.PathOf("route"), Emplace<DeleteRoute>(a).route);
       }},
      {"addRule", {"rule"},
       [](const ObjectReader& o, StepAction& a) {
         return ReadRule(o.At("rule"), o.PathOf("rule"), Emplace<AddRule>(a).rule);
       }},
      {"deleteRule", {"rule"},
       [](const ObjectReader& o, StepAction& a) {
         return ReadRule(o.At("rule"), o.PathOf("rule"), Emplace<DeleteRule>(a).rule);
       }},
      {"writeChain", {"chain"},
       [](const ObjectReader& o, StepAction& a) {
         return ReadChain(o.At("chain"), o.PathOf("chain"), Emplace<WriteChain>(a).chain);
       }},
      {"editChain", {"table", "name", "deleteRules", "appendRules"},
       [](const ObjectReader& o, StepAction& a) {
         auto& step = Emplace<EditChain>(a);
         WW_RETURN_IF_ERROR(o.Table("table", step.table));
         WW_RETURN_IF_ERROR(o.String("name", TextRule::kChainName, step.name));
         WW_RETURN_IF_ERROR(ReadStringList(o.At("deleteRules"), o.PathOf("deleteRules"), TextRule::kText, step.delete_rules));
         return ReadStringList(o.At("appendRules"), o.PathOf("appendRules"), TextRule::kText, step.append_rules);
       }},
      {"deleteChain", {"table", "name"},
       [](const ObjectReader& o, StepAction& a) {
         auto& step = Emplace<DeleteChain>(a);
         WW_RETURN_IF_ERROR(o.Table("table", step.table));
         return o.String("name", TextRule::kChainName, step.name);
       }},
      {"addJump", {"jump"},
       [](const ObjectReader& o, StepAction& a) {
         return ReadJump(o.At("jump"), o.PathOf("jump"), Emplace<AddJump>(a).jump);
       }},
      {"deleteJump", {"jump"},
       [](const ObjectReader& o, StepAction& a) {
         return ReadJump(o.At("jump"), o.PathOf("jump"), Emplace<DeleteJump>(a).jump);
       }},
      {"setSysctl", {"sysctl"},
       [](const ObjectReader& o, StepAction& a) {
         return ReadSysctl(o.At("sysctl"), o.PathOf("sysctl"), Emplace<SetSysctl>(a).sysctl);
       }},
      {"deleteInterface", {"name"},
       [](const ObjectReader& o, StepAction& a) {
         return o.String("name", TextRule::kInterfaceName, Emplace<DeleteInterface>(a).name);
       }},
  };
  return kinds;
}

Status ReadStep(const Json& value, const std::string& path, Step& out) {
  if (!value.is_object()) return Fail(path, "expected an object, got " + DescribeValue(value));
  if (!value.contains("type")) return Fail(path, "missing field \"type\"");
  std::string type;
  WW_RETURN_IF_ERROR(ReadString(value.at("type"), Child(path, "type"), TextRule::kText, type));
  const auto& kinds = StepKinds();
  auto kind = std::find_if(kinds.begin(), kinds.end(), [&](const StepKind& k) { return k.type == type; });
  if (kind == kinds.end()) {
    std::vector<std::string_view> names;
    for (const StepKind& k : kinds) names.push_back(k.type);
    std::string message = Quoted(type) + " is not a step type";
    if (std::string_view hint = ClosestName(type, names); !hint.empty()) {
      message += " (did you mean \"" + std::string(hint) + "\"?)";
    }
    return Fail(Child(path, "type"), message);
  }
  std::vector<std::string_view> fields = {"type", "destructive"};
  fields.insert(fields.end(), kind->fields.begin(), kind->fields.end());
  ObjectReader object(value, path);
  WW_RETURN_IF_ERROR(object.Open(fields));
  bool destructive = false;
  WW_RETURN_IF_ERROR(object.Bool("destructive", destructive));
  out.destructive = destructive ? Destructive::kYes : Destructive::kNo;
  return kind->read(object, out.action);
}

// Runs `read` on a parsed document, catching anything nlohmann throws while reading (the
// readers check types first, so this is a last line of defence).
template <typename T, typename Read>
Result<T> ReadDocument(std::string_view text, Read read) {
  auto document = ParseDocument(text);
  if (!document.ok()) return document.status();
  T out;
  try {
    Status status = read(*document, out);
    if (!status.ok()) return status;
  } catch (const std::exception& error) {
    return Status::InvalidArgument(std::string("invalid document: ") + error.what());
  }
  return out;
}

}  // namespace

std::string AgentConfigToJson(const AgentConfig& config, JsonStyle style) {
  JsonWriter out(style);
  out.BeginObject();
  out.Key("formatVersion").Integer(kWireFormatVersion);
  out.Key("agent").String(config.agent);
  WriteList(out, "interfaces", config.interfaces);
  WriteList(out, "routes", config.routes);
  WriteList(out, "rules", config.rules);
  WriteList(out, "chains", config.chains);
  WriteList(out, "jumps", config.jumps);
  WriteList(out, "sysctls", config.sysctls);
  out.Key("notices").Strings(config.notices);
  // Only when there are some: a complete config reads the same as before warnings existed.
  if (!config.warnings.empty()) out.Key("warnings").Strings(config.warnings);
  out.EndObject();
  return out.Take();
}

Result<AgentConfig> AgentConfigFromJson(std::string_view text) {
  return ReadDocument<AgentConfig>(text, [](const Json& document, AgentConfig& out) {
    ObjectReader object(document, "");
    WW_RETURN_IF_ERROR(OpenDocument(
        object, document,
        {"formatVersion", "agent", "interfaces", "routes", "rules", "chains", "jumps", "sysctls", "notices"},
        {"warnings"}));
    WW_RETURN_IF_ERROR(object.String("agent", TextRule::kName, out.agent));
    WW_RETURN_IF_ERROR(ReadList(object, "interfaces", ReadInterface, out.interfaces));
    WW_RETURN_IF_ERROR(ReadList(object, "routes", ReadRoute, out.routes));
    WW_RETURN_IF_ERROR(ReadList(object, "rules", ReadRule, out.rules));
    WW_RETURN_IF_ERROR(ReadList(object, "chains", ReadChain, out.chains));
    WW_RETURN_IF_ERROR(ReadList(object, "jumps", ReadJump, out.jumps));
    WW_RETURN_IF_ERROR(ReadList(object, "sysctls", ReadSysctl, out.sysctls));
    WW_RETURN_IF_ERROR(ReadStringList(object.At("notices"), "notices", TextRule::kText, out.notices));
    if (!object.Has("warnings")) return Status::Ok();
    return ReadStringList(object.At("warnings"), "warnings", TextRule::kText, out.warnings);
  });
}

std::string ObservedStateToJson(const ObservedState& state, JsonStyle style) {
  JsonWriter out(style);
  out.BeginObject();
  out.Key("formatVersion").Integer(kWireFormatVersion);
  WriteList(out, "interfaces", state.interfaces);
  WriteList(out, "routes", state.routes);
  WriteList(out, "rules", state.rules);
  WriteList(out, "chains", state.chains);
  WriteList(out, "jumps", state.jumps);
  WriteList(out, "sysctls", state.sysctls);
  out.EndObject();
  return out.Take();
}

Result<ObservedState> ObservedStateFromJson(std::string_view text) {
  return ReadDocument<ObservedState>(text, [](const Json& document, ObservedState& out) {
    ObjectReader object(document, "");
    WW_RETURN_IF_ERROR(
        OpenDocument(object, document, {"formatVersion", "interfaces", "routes", "rules", "chains", "jumps", "sysctls"}));
    WW_RETURN_IF_ERROR(ReadList(object, "interfaces", ReadObservedInterface, out.interfaces));
    WW_RETURN_IF_ERROR(ReadList(object, "routes", ReadRoute, out.routes));
    WW_RETURN_IF_ERROR(ReadList(object, "rules", ReadRule, out.rules));
    WW_RETURN_IF_ERROR(ReadList(object, "chains", ReadChain, out.chains));
    WW_RETURN_IF_ERROR(ReadList(object, "jumps", ReadJump, out.jumps));
    return ReadList(object, "sysctls", ReadSysctl, out.sysctls);
  });
}

std::string PlanToJson(const Plan& plan, JsonStyle style) {
  JsonWriter out(style);
  out.BeginObject();
  out.Key("formatVersion").Integer(kWireFormatVersion);
  WriteList(out, "steps", plan.steps);
  out.EndObject();
  return out.Take();
}

Result<Plan> PlanFromJson(std::string_view text) {
  return ReadDocument<Plan>(text, [](const Json& document, Plan& out) {
    ObjectReader object(document, "");
    WW_RETURN_IF_ERROR(OpenDocument(object, document, {"formatVersion", "steps"}));
    return ReadList(object, "steps", ReadStep, out.steps);
  });
}

}  // namespace ww
