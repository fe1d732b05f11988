// Vitest setup: jsdom lacks a few layout APIs the components call.
Element.prototype.scrollIntoView ??= function scrollIntoView() {};
