export { type Command, intOption, parseOptions } from './command.js';
