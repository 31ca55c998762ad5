// Built-in ServiceTemplates, template lookup (user first, then built-in) and a forward's
// port sets, through both FindTemplate and TemplateIndex.
#include <doctest/doctest.h>

#include <string>

#include "schema/model.h"
#include "schema/templates.h"

using namespace ww;

namespace {

ServiceTemplate UserTemplate(const char* name, std::vector<PortSet> sets) {
  ServiceTemplate service;
  service.metadata.name = name;
  service.spec.ports = std::move(sets);
  return service;
}

PortForward TemplateForward(const char* service) {
  PortForward forward;
  forward.metadata.name = "forward";
  forward.spec.template_name = service;
  return forward;
}

}  // namespace

TEST_CASE("the built-in templates and their ports") {
  std::string listing;
  for (const ServiceTemplate& builtin : BuiltinTemplates()) {
    listing += builtin.metadata.name + ": " + DescribePortSets(builtin.spec.ports) + "\n";
  }
  CHECK(listing ==
        "minecraft: tcp 25565\n"
        "minecraft-bedrock: udp 19132\n"
        "dayz: udp 2302-2305, udp 27016\n"
        "valheim: udp 2456-2458\n"
        "terraria: tcp 7777\n"
        "plex: tcp 32400\n"
        "web: tcp 80, tcp 443\n"
        "ssh: tcp 22\n");
  for (const ServiceTemplate& builtin : BuiltinTemplates()) {
    CAPTURE(builtin.metadata.name);
    CHECK(IsValidName(builtin.metadata.name));
    CHECK(builtin.origin.file.empty());
  }
}

TEST_CASE("FindTemplate prefers the user's template, then the built-in, else nullptr") {
  Fleet fleet;
  fleet.templates.push_back(UserTemplate("factorio", {{Protocol::kUdp, {{34197, 34197}}}}));
  fleet.templates.push_back(UserTemplate("web", {{Protocol::kTcp, {{8080, 8080}}}}));
  fleet.templates.push_back(UserTemplate("web", {{Protocol::kTcp, {{9090, 9090}}}}));
  TemplateIndex index(fleet);

  CHECK(FindTemplate(fleet, "factorio") == &fleet.templates[0]);
  CHECK(index.Find("factorio") == &fleet.templates[0]);
  // A user template shadowing a built-in is an error (validate), but lookups still agree: the first user one.
  CHECK(FindTemplate(fleet, "web") == &fleet.templates[1]);
  CHECK(index.Find("web") == &fleet.templates[1]);
  REQUIRE(FindTemplate(fleet, "dayz") != nullptr);
  CHECK(FindTemplate(fleet, "dayz")->metadata.name == "dayz");
  CHECK(index.Find("dayz") == FindTemplate(fleet, "dayz"));
  CHECK(FindTemplate(fleet, "quake") == nullptr);
  CHECK(index.Find("quake") == nullptr);
  CHECK(FindTemplate(fleet, "") == nullptr);
}

TEST_CASE("ForwardPortSets gives a forward's own ports or its template's") {
  Fleet fleet;
  fleet.templates.push_back(UserTemplate("factorio", {{Protocol::kUdp, {{34197, 34197}}}}));
  TemplateIndex index(fleet);

  PortForward direct;
  direct.spec.protocol = Protocol::kBoth;
  direct.spec.ports = {{2302, 2305}, {27016, 27016}};
  CHECK(ForwardPortSets(fleet, direct) == std::vector<PortSet>{{Protocol::kBoth, {{2302, 2305}, {27016, 27016}}}});
  CHECK(ForwardPortSets(index, direct) == ForwardPortSets(fleet, direct));

  CHECK(DescribePortSets(ForwardPortSets(fleet, TemplateForward("dayz"))) == "udp 2302-2305, udp 27016");
  CHECK(DescribePortSets(ForwardPortSets(index, TemplateForward("dayz"))) == "udp 2302-2305, udp 27016");
  CHECK(DescribePortSets(ForwardPortSets(fleet, TemplateForward("factorio"))) == "udp 34197");
  CHECK(DescribePortSets(ForwardPortSets(index, TemplateForward("factorio"))) == "udp 34197");
  CHECK(ForwardPortSets(fleet, TemplateForward("quake")).empty());
  CHECK(ForwardPortSets(index, TemplateForward("quake")).empty());
}

// Defect 11: the status page showed dayz (and web) as protocol "mixed" though every set is udp.
TEST_CASE("SummarizePortSets merges sets of one protocol and says mixed only for different protocols") {
  Fleet fleet;
  CHECK(SummarizePortSets(ForwardPortSets(fleet, TemplateForward("dayz"))) == PortSummary{"udp", "2302-2305,27016"});
  CHECK(SummarizePortSets(ForwardPortSets(fleet, TemplateForward("web"))) == PortSummary{"tcp", "80,443"});
  CHECK(SummarizePortSets(ForwardPortSets(fleet, TemplateForward("minecraft"))) == PortSummary{"tcp", "25565"});
  // Out of order sets come out sorted; "both" is its own protocol.
  CHECK(SummarizePortSets({{Protocol::kUdp, {{27016, 27016}}}, {Protocol::kUdp, {{2302, 2305}}}}) ==
        PortSummary{"udp", "2302-2305,27016"});
  CHECK(SummarizePortSets({{Protocol::kTcp, {{80, 80}}}, {Protocol::kUdp, {{53, 53}}}, {Protocol::kTcp, {{443, 443}}}}) ==
        PortSummary{"mixed", "tcp 80,443, udp 53"});
  CHECK(SummarizePortSets({{Protocol::kBoth, {{53, 53}}}, {Protocol::kUdp, {{67, 67}}}}) ==
        PortSummary{"mixed", "both 53, udp 67"});
}
