export { type Command, intOption, parseOptions } from './command.js';
export { CLI_ERROR_CODES, type CliErrorCode } from './error-codes.js';
