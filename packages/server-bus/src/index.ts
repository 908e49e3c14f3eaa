// Placeholder until the package's issue lands: the build and turbo wiring are real.
export const PACKAGE_NAME = '@canbridge/server-bus'
