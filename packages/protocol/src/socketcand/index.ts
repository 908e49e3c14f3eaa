// The socketcand text protocol (`< ... >` over TCP): tokenizer, parsers and formatters for
// both directions, plus canbridge's opt-in extension for RTR and CAN FD frames.
export {
  SOCKETCAND_BEACON_PORT,
  SOCKETCAND_EXTENSION_FEATURES,
  SOCKETCAND_EXTENSION_KEYWORD,
  SOCKETCAND_EXTENSION_VERSION,
  SOCKETCAND_FD_FLAG,
  SOCKETCAND_MAX_BUS_NAME,
  SOCKETCAND_MAX_MESSAGE_LENGTH,
  SOCKETCAND_MODES,
  SOCKETCAND_PORT,
  type SocketcandExtensionFeature,
  type SocketcandMode,
} from './constants.ts'
export {
  SOCKETCAND_ERROR_CODE,
  SocketcandError,
  type SocketcandErrorCode,
  type SocketcandErrorOptions,
} from './errors.ts'
export {
  formatSocketcandClientMessage,
  formatSocketcandFrame,
  formatSocketcandSend,
  formatSocketcandServerMessage,
  type SocketcandFrameFormatOptions,
} from './format.ts'
export type {
  SocketcandClientMessage,
  SocketcandClientMessageType,
  SocketcandId,
  SocketcandInterval,
  SocketcandServerMessage,
  SocketcandServerMessageType,
  SocketcandStat,
} from './messages.ts'
export { parseSocketcandClientMessage, parseSocketcandServerMessage } from './parse.ts'
export { SocketcandTokenizer, type SocketcandTokenizerOptions } from './tokenizer.ts'
