// The rings' memory, checked against what the host can give before any of it is taken: a
// ring too large for the host is a setting to change, said in words (not a RangeError from
// the allocation, or the kernel's OOM killer while the pages are touched).
import { freemem } from 'node:os'
import { ConfigError } from './config.ts'

/** Memory the process needs beside the rings (Node, the workers' heaps, the spool's buffers). */
export const HEADROOM_BYTES = 96 * 1024 * 1024

/** From this total on, reserving the rings is said before it starts: touching takes seconds. */
export const ANNOUNCE_RING_BYTES = 256 * 1024 * 1024

export function ringMemoryBytes(ringBytes: number, channels: number): number {
  // each ring's control block (a few hundred bytes) is within the headroom
  return ringBytes * channels
}

/** "1.5G", "512M", "64K": binary units, as --ring-bytes takes them. */
export function formatBytes(bytes: number): string {
  for (const [unit, factor] of [
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (bytes >= factor) return `${Number((bytes / factor).toFixed(1))}${unit}`
  }
  return `${bytes}`
}

/**
 * Memory this process may still take: process.availableMemory() (free memory, or the
 * cgroup's limit when lower), else free memory. The armv7 executable's Node 20.11 has no
 * process.availableMemory (Node 20.13 and 22 have).
 */
export function availableMemory(
  runtime: { availableMemory?: () => number } = process,
  freeMemory: () => number = freemem,
): number {
  return typeof runtime.availableMemory === 'function' ? runtime.availableMemory() : freeMemory()
}

/**
 * Throws ConfigError naming --ring-bytes when `channels` rings of `ringBytes` and the
 * headroom do not fit in `availableBytes` (process.availableMemory(): free memory, or the
 * cgroup's limit such as systemd's MemoryMax when lower).
 */
export function checkRingMemory(ringBytes: number, channels: number, availableBytes: number): void {
  const total = ringMemoryBytes(ringBytes, channels)
  if (total + HEADROOM_BYTES <= availableBytes) return
  const fits = Math.max(0, Math.floor((availableBytes - HEADROOM_BYTES) / channels))
  const suggestion =
    fits >= 16 * 1024
      ? `lower --ring-bytes to at most ${fits >= 1024 ** 2 ? `${Math.floor(fits / 1024 ** 2)}M` : `${Math.floor(fits / 1024)}K`} per channel`
      : 'use fewer channels'
  throw new ConfigError(
    `the rings do not fit in memory: --ring-bytes ${formatBytes(ringBytes)} × ${channels} channel${channels === 1 ? '' : 's'} = ${formatBytes(total)}, and ${formatBytes(HEADROOM_BYTES)} for the rest of the edge, but this host has ${formatBytes(availableBytes)} available (free memory, or the service's memory limit); ${suggestion}, or give the edge more memory`,
  )
}
