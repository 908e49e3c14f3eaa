// Stand-ins for the socketcan addon's exports, for tests of what the edge concludes from
// them (bindingSupport, doctor): the canbridge patch of a given features version, with the
// methods that version adds. No method does anything.

/** The features every canbridge patch has (features version 1). */
const BASE_FEATURES = {
  batch: true,
  drops: true,
  fdFlags: true,
  recvOwnMsgs: true,
  rcvbuf: true,
  sendErrno: true,
  timestampNs: true,
}

/** The addon as built with the canbridge patch of `version` (1, 2 or 3, this release's). */
export function patchedBinding(version: 1 | 2 | 3 = 3) {
  class RawChannel {
    startBatch() {}
    readDrops() {}
    setRecvOwnMsgs() {}
    setReceiveBuffer() {}
  }
  const prototype = RawChannel.prototype as unknown as Record<string, () => void>
  if (version >= 2) prototype['setBatchWait'] = () => {}
  if (version >= 3) {
    prototype['readBatch'] = () => {}
    prototype['resumeBatch'] = () => {}
  }
  return {
    RawChannel,
    features: { ...BASE_FEATURES, version, batchWait: version >= 2, batchHold: version >= 3 },
    BATCH_RECORD_BYTES: 88,
    BATCH_RECORD: {},
  }
}
