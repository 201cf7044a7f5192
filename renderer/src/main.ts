// The renderer's entry: connect to the lab (Electron's preload or `packetlab serve`'s WebSocket)
// and mount the app.

import { mount } from 'svelte';
import App from './App.svelte';
import { connectLab } from './lib/api.js';
import './app.css';

const target = document.getElementById('app');
if (target === null) throw new Error('index.html has no #app element');
mount(App, { target, props: { connection: connectLab() } });
