// The transmit policy's settings from the configuration, checked together: --tx-burst only
// means something with --tx-rate-limit, and defaults to a tenth of it.
import { ConfigError, type EdgeConfig } from '../config.ts'
import { defaultBurst } from './rate-limiter.ts'
import type { TxPolicySettings } from './tx-policy.ts'

export function txPolicySettings(
  config: Pick<EdgeConfig, 'listenOnly' | 'txAllow' | 'txRateLimit' | 'txBurst'>,
): TxPolicySettings {
  if (config.txRateLimit === null && config.txBurst !== null) {
    throw new ConfigError(
      `tx-burst ${config.txBurst} without a rate limit: --tx-burst sizes the burst of --tx-rate-limit; give --tx-rate-limit N (frames/s per channel) or leave out --tx-burst`,
    )
  }
  return {
    listenOnly: config.listenOnly,
    allow: config.txAllow,
    rateLimit: config.txRateLimit,
    burst: config.txRateLimit === null ? 1 : (config.txBurst ?? defaultBurst(config.txRateLimit)),
  }
}
