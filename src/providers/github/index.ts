export { GithubProvider } from "./provider.js";
export { GithubSettings } from "./settings.js";
