export { AwsSsoProvider } from "./provider.js";
export { AwsSsoSettings } from "./settings.js";
