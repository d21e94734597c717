// Package contract holds the contract tests of the Power Platform API:
// every response the simulator sends and every request the ppapi client
// sends is validated against shared/spec/power-platform-api-openapi.json.
// The package has no code of its own; see its _test.go files.
package contract
