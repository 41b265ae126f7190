export { buildConsoleAssets, type ConsoleAsset, consoleCsp } from './build.js';
