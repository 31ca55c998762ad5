// Anchor for the ww_test_support library; helpers live in their own files beside it.
namespace ww::test_support {}
