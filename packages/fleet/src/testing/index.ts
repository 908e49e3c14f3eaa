// Test support: a real NATS server (the binary setup installs), never a mock.
export { freePort, NatsServer, type NatsServerOptions } from './nats-server.ts'
