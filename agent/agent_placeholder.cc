// Keeps ww_agent a valid library while its modules land.
namespace ww::agent {}
